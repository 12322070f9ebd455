# expect: exactly one of
# at: condition
resource "elbv2_listener_rule" "bad" {
  listener_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2"
  action {
    type             = "forward"
    target_group_arn = "arn:tg"
  }
  condition {
    path_pattern {
      values = ["/"]
    }
    host_header {
      values = ["a"]
    }
  }
}
