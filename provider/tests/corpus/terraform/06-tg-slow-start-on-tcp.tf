# expect: applies to HTTP and HTTPS groups
# at: slow_start
resource "elbv2_target_group" "bad" {
  port       = 80
  protocol   = "TCP"
  vpc_id     = "vpc-1"
  slow_start = 60
}
