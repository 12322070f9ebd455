# expect: not both
# at: subnets
resource "elbv2_load_balancer" "bad" {
  subnets = ["a", "b"]
  subnet_mapping {
    subnet_id = "c"
  }
}
