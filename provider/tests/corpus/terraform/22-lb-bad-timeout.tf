# expect: must be a duration
# at: create
resource "elbv2_load_balancer" "bad" {
  subnets = ["a", "b"]
  timeouts {
    create = "soon"
  }
}
