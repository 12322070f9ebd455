data "elbv2_load_balancer" "web" {
  tags = {
    service = "web"
  }
}

output "web_dns_name" {
  value = data.elbv2_load_balancer.web.dns_name
}
