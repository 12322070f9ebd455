# Pod IPs are registered by tgbind-controller through a TargetGroupBinding (targetType: ip).
resource "elbv2_target_group" "web" {
  name_prefix          = "web-"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = "vpc-0a1b2c3d4e5f60001"
  deregistration_delay = 30

  health_check {
    path    = "/healthz"
    matcher = "200-299"
  }

  # Replace without ResourceInUse errors while a listener forwards here.
  lifecycle {
    create_before_destroy = true
  }
}
