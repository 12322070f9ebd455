# expect: between 0 and 3600
# at: deregistration_delay
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
  deregistration_delay = 4000
}
