# Quickstart: an internet-facing ALB with an HTTP listener forwarding to the target group that a
# TargetGroupBinding fills with a Service's pod IPs.
# Against real AWS: leave `endpoint_url` null and pass your VPC and two public subnets.

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

variable "subnet_ids" {
  description = "Two or more public subnets in different availability zones, for the ALB."
  type        = list(string)
}

variable "security_group_ids" {
  description = "The ALB's security groups. The TargetGroupBinding's networking lets the first one reach the pods."
  type        = list(string)
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

resource "elbv2_load_balancer" "web" {
  name               = "quickstart"
  load_balancer_type = "application"
  subnets            = var.subnet_ids
  security_groups    = var.security_group_ids
}

resource "elbv2_listener" "http" {
  load_balancer_arn = elbv2_load_balancer.web.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = elbv2_target_group.app.arn
  }
}

output "dns_name" {
  description = "Where the Service answers once its pods are healthy."
  value       = elbv2_load_balancer.web.dns_name
}

output "target_group_arn" {
  description = "Put this in the TargetGroupBinding's spec.targetGroupARN."
  value       = elbv2_target_group.app.arn
}

output "listener_arn" {
  description = "The HTTP listener (the local walkthrough finds where its data plane serves it by this)."
  value       = elbv2_listener.http.arn
}
