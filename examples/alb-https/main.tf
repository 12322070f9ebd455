# An internet-facing ALB for one service: HTTPS on 443 with a weighted blue/green default,
# HTTP on 80 redirected to HTTPS, and path rules for an API and static assets. The target
# groups are filled by tgbind-controller (TargetGroupBinding, targetType: ip).

terraform {
  required_providers {
    elbv2 = {
      source = "tgbind/elbv2"
    }
  }
}

provider "elbv2" {
  default_tags {
    tags = {
      app = var.name
    }
  }
}

resource "elbv2_load_balancer" "web" {
  name               = var.name
  load_balancer_type = "application"
  subnets            = var.subnet_ids
  security_groups    = var.security_group_ids
  idle_timeout       = 120
}

# Blue and green serve the site; the listener's weights decide who gets traffic.
resource "elbv2_target_group" "color" {
  for_each = toset(["blue", "green"])

  name        = "${var.name}-${each.key}"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  deregistration_delay = 30

  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}

resource "elbv2_target_group" "api" {
  name        = "${var.name}-api"
  port        = 9090
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path = "/api/healthz"
  }
}

resource "elbv2_target_group" "assets" {
  name        = "${var.name}-assets"
  port        = 8081
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
}

resource "elbv2_listener" "https" {
  load_balancer_arn = elbv2_load_balancer.web.arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type = "forward"

    forward {
      target_group {
        arn    = elbv2_target_group.color["blue"].arn
        weight = var.blue_weight
      }
      target_group {
        arn    = elbv2_target_group.color["green"].arn
        weight = 100 - var.blue_weight
      }
    }
  }
}

resource "elbv2_listener" "http" {
  load_balancer_arn = elbv2_load_balancer.web.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

resource "elbv2_listener_rule" "api" {
  listener_arn = elbv2_listener.https.arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = elbv2_target_group.api.arn
  }

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }
}

resource "elbv2_listener_rule" "assets" {
  listener_arn = elbv2_listener.https.arn
  priority     = 20

  action {
    type             = "forward"
    target_group_arn = elbv2_target_group.assets.arn
  }

  condition {
    path_pattern {
      values = ["/assets/*", "/favicon.ico"]
    }
  }
}
