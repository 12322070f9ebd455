# expect: needs `certificate_arn`
# at: 
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port     = 443
  protocol = "HTTPS"
  default_action {
    type             = "forward"
    target_group_arn = "arn:tg"
  }
}
