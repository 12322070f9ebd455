# expect: name one target group
# at: target_group_arn
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port = 80
  default_action {
    type             = "forward"
    target_group_arn = "a"
    forward {
      target_group {
        arn = "b"
      }
    }
  }
}
