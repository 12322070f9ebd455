# expect: cannot start with `internal-`
# at: name
resource "elbv2_load_balancer" "bad" {
  name    = "internal-web"
  subnets = ["a", "b"]
}
