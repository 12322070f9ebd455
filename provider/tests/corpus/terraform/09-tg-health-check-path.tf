# expect: must start with /
# at: path
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
  health_check {
    path = "healthz"
  }
}
