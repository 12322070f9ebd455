# expect: applies to TLS listeners
# at: alpn_policy
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port        = 80
  protocol    = "HTTP"
  alpn_policy = "None"
  default_action {
    type             = "forward"
    target_group_arn = "arn:tg"
  }
}
