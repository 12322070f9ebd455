# expect: is not one of
# at: load_balancer_type
resource "elbv2_load_balancer" "bad" {
  load_balancer_type = "classic"
  subnets            = ["a", "b"]
}
