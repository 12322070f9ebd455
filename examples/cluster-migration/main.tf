# Moving a service from cluster A to cluster B without downtime. One ALB and HTTP listener forward
# to two target groups by weight: "a" is bound by cluster A, "b" by cluster B. migrate.sh shifts
# `weight_b` from 0 to 100 in steps, checking before each step that group b has healthy targets.

terraform {
  required_providers {
    elbv2 = {
      source = "tgbind/elbv2"
    }
  }
}

variable "endpoint_url" {
  description = "AWS endpoint override, for an emulator. Leave null for real AWS."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC both clusters' pods live in (pod IPs are registered directly)."
  type        = string
}

variable "subnet_ids" {
  description = "Two or more public subnets in different availability zones, for the ALB."
  type        = list(string)
}

variable "weight_b" {
  description = "Share of traffic, 0-100, for cluster B's target group; cluster A gets the rest."
  type        = number
  default     = 0

  validation {
    condition     = var.weight_b >= 0 && var.weight_b <= 100
    error_message = "The weight_b must be between 0 and 100."
  }
}

provider "elbv2" {
  endpoint_url = var.endpoint_url
}

resource "elbv2_load_balancer" "web" {
  name    = "migration"
  subnets = var.subnet_ids
}

resource "elbv2_target_group" "cluster" {
  for_each = toset(["a", "b"])

  name                 = "web-cluster-${each.key}"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path = "/healthz"
  }
}

resource "elbv2_listener" "http" {
  load_balancer_arn = elbv2_load_balancer.web.arn
  port              = 80

  default_action {
    type = "forward"

    forward {
      target_group {
        arn    = elbv2_target_group.cluster["a"].arn
        weight = 100 - var.weight_b
      }
      target_group {
        arn    = elbv2_target_group.cluster["b"].arn
        weight = var.weight_b
      }
    }
  }
}

# Health as the load balancer sees it, read at every plan: migrate.sh refuses to send traffic to a
# group without healthy targets.
data "elbv2_target_group" "b" {
  arn = elbv2_target_group.cluster["b"].arn
}

output "target_group_a_arn" {
  value = elbv2_target_group.cluster["a"].arn
}

output "target_group_b_arn" {
  value = elbv2_target_group.cluster["b"].arn
}

output "listener_arn" {
  value = elbv2_listener.http.arn
}

output "healthy_b" {
  description = "Healthy targets in cluster B's group."
  value       = data.elbv2_target_group.b.healthy_target_count
}
