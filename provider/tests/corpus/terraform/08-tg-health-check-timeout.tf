# expect: must be shorter than the interval
# at: timeout
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
  health_check {
    interval = 5
    timeout  = 5
  }
}
