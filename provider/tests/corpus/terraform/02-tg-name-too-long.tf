# expect: between 1 and 32
# at: name
resource "elbv2_target_group" "bad" {
  name     = "a-name-that-is-far-too-long-for-aws-1"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
