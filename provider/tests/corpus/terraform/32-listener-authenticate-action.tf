# expect: needs a `authenticate_oidc` block
# at: type
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port = 80
  default_action {
    type = "authenticate-oidc"
  }
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
    }
  }
}
