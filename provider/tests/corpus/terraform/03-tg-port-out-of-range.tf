# expect: between 1 and 65535
# at: port
resource "elbv2_target_group" "bad" {
  port     = 70000
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
