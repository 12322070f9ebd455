# expect: is not one of
# at: ip_address_type
resource "elbv2_load_balancer" "bad" {
  subnets         = ["a", "b"]
  ip_address_type = "ipv6-only"
}
