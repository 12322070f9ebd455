# expect: applies to application load balancers
# at: idle_timeout
resource "elbv2_load_balancer" "bad" {
  load_balancer_type = "network"
  subnets            = ["a"]
  idle_timeout       = 30
}
