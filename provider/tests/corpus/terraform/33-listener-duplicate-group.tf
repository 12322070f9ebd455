# expect: appears more than once
# at: arn
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port = 80
  default_action {
    type = "forward"
    forward {
      target_group {
        arn = "b"
      }
      target_group {
        arn = "b"
      }
    }
  }
}
