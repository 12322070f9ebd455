resource "elbv2_listener" "https" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  # Blue/green: shift traffic by changing the weights.
  default_action {
    type = "forward"

    forward {
      target_group {
        arn    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-blue/0123456789abcdef"
        weight = 90
      }
      target_group {
        arn    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-green/0123456789abcdef"
        weight = 10
      }
    }
  }
}

resource "elbv2_listener" "http" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"
  port              = 80

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}
