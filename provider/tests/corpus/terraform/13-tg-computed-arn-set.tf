# expect: cannot be configured
# at: arn
resource "elbv2_target_group" "bad" {
  arn = "arn:x"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
