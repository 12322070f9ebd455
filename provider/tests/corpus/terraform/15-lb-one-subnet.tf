# expect: at least two availability zones
# at: subnets
resource "elbv2_load_balancer" "bad" {
  subnets = ["subnet-a"]
}
