# expect: needs an HTTP or HTTPS group
# at: type
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "TCP"
  vpc_id   = "vpc-1"
  stickiness {
    type = "lb_cookie"
  }
}
