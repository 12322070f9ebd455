# expect: applies to network load balancers
# at: allocation_id
resource "elbv2_load_balancer" "bad" {
  subnet_mapping {
    subnet_id     = "a"
    allocation_id = "eipalloc-1"
  }
  subnet_mapping {
    subnet_id = "b"
  }
}
