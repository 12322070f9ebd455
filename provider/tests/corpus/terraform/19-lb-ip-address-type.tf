# expect: applies to network load balancers
# at: enable_cross_zone_load_balancing
resource "elbv2_load_balancer" "bad" {
  subnets                          = ["a", "b"]
  enable_cross_zone_load_balancing = true
}
