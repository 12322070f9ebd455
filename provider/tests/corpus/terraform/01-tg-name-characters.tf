# expect: only letters, digits and hyphens
# at: name
resource "elbv2_target_group" "bad" {
  name     = "bad_name!"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
