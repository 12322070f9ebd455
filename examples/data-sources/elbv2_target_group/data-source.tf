# Wait until the new cluster's pods are healthy in the green group before shifting weights.
data "elbv2_target_group" "green" {
  name = "web-green"
}

output "green_ready" {
  value = data.elbv2_target_group.green.healthy_target_count >= 3
}

output "green_targets" {
  value = [for t in data.elbv2_target_group.green.targets : "${t.id}:${t.port} ${t.state}"]
}
