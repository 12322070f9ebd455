# Quickstart: the target group a TargetGroupBinding fills with a Service's pod IPs.
# Against real AWS: drop `endpoint_url` (or leave the variable null) and pass your VPC ID.

terraform {
  required_providers {
    elbv2 = {
      source = "tgbind/elbv2"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "endpoint_url" {
  description = "AWS endpoint override, for an emulator. Leave null for real AWS."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the cluster's pods."
  type        = string
}

provider "elbv2" {
  region       = var.region
  endpoint_url = var.endpoint_url

  default_tags {
    tags = {
      managed-by = "terraform"
      example    = "tgbind-quickstart"
    }
  }
}

resource "elbv2_target_group" "app" {
  name                 = "quickstart-app"
  port                 = 8080
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "ip" # pod IPs, registered by tgbind-controller
  deregistration_delay = 30

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = {
    app = "quickstart"
  }
}

output "target_group_arn" {
  description = "Put this in the TargetGroupBinding's spec.targetGroupARN."
  value       = elbv2_target_group.app.arn
}
