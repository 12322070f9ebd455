# expect: is not one of
# at: content_type
resource "elbv2_listener" "bad" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port = 80
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "image/png"
    }
  }
}
