# No priority: the next free one is taken, even when many rules are created at once.
resource "elbv2_listener_rule" "api" {
  listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"

  action {
    type             = "forward"
    target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef"
  }

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }

  condition {
    http_request_method {
      values = ["GET", "POST"]
    }
  }
}

resource "elbv2_listener_rule" "maintenance" {
  listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
  priority     = 1

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Back soon"
      status_code  = "503"
    }
  }

  condition {
    host_header {
      values = ["admin.example.com"]
    }
  }
}
