# expect: not both
# at: name_prefix
resource "elbv2_target_group" "bad" {
  name        = "x"
  name_prefix = "y"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
