# expect: health_check
# at: 
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
  health_check {
    path = "/a"
  }
  health_check {
    path = "/b"
  }
}
