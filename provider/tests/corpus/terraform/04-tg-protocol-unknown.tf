# expect: is not one of
# at: protocol
resource "elbv2_target_group" "bad" {
  port     = 80
  protocol = "HTTPX"
  vpc_id   = "vpc-1"
}
