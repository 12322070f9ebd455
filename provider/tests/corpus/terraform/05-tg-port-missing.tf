# expect: `port` is required
# at: 
resource "elbv2_target_group" "bad" {
  protocol = "HTTP"
  vpc_id   = "vpc-1"
}
