# expect: needs `subnets` or `subnet_mapping`
# at: 
resource "elbv2_load_balancer" "bad" {
  name = "x"
}
