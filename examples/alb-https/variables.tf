variable "name" {
  description = "Name of the load balancer; target group names start with it."
  type        = string
  default     = "web"
}

variable "vpc_id" {
  description = "VPC of the subnets and of the pods behind the target groups."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets in at least two availability zones."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the load balancer (allow 80 and 443 in)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string
}

variable "blue_weight" {
  description = "Share of default traffic for blue, 0-100; green gets the rest."
  type        = number
  default     = 100

  validation {
    condition     = var.blue_weight >= 0 && var.blue_weight <= 100
    error_message = "The blue_weight must be between 0 and 100."
  }
}
