output "dns_name" {
  description = "Point your DNS (a Route 53 alias with zone_id) at this name."
  value       = elbv2_load_balancer.web.dns_name
}

output "zone_id" {
  value = elbv2_load_balancer.web.zone_id
}

output "https_listener_arn" {
  value = elbv2_listener.https.arn
}

output "target_group_arns" {
  description = "ARNs for the TargetGroupBindings of each service."
  value = {
    blue   = elbv2_target_group.color["blue"].arn
    green  = elbv2_target_group.color["green"].arn
    api    = elbv2_target_group.api.arn
    assets = elbv2_target_group.assets.arn
  }
}

output "load_balancer_arn" {
  value = elbv2_load_balancer.web.arn
}
