# expect: is not between 1 and 4000
# at: idle_timeout
resource "elbv2_load_balancer" "bad" {
  subnets      = ["a", "b"]
  idle_timeout = 4001
}
