# expect: is not one of
# at: status_code
resource "elbv2_listener_rule" "bad" {
  listener_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2"
  action {
    type = "redirect"
    redirect {
      status_code = "HTTP_307"
    }
  }
  condition {
    path_pattern {
      values = ["/"]
    }
  }
}
