# expect: between 0 and 999
# at: weight
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port = 80
  default_action {
    type = "forward"
    forward {
      target_group {
        arn    = "b"
        weight = 1000
      }
    }
  }
}
