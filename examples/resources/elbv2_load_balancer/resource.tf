resource "elbv2_load_balancer" "web" {
  name               = "web"
  load_balancer_type = "application"
  subnets            = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  security_groups    = ["sg-0a1b2c3d4e5f60001"]
  idle_timeout       = 120

  enable_deletion_protection = true

  access_logs {
    bucket = "my-alb-logs"
    prefix = "web"
  }

  tags = {
    service = "web"
  }
}

# A network load balancer with a fixed Elastic IP per zone.
resource "elbv2_load_balancer" "tcp" {
  name_prefix                      = "tcp-"
  load_balancer_type               = "network"
  enable_cross_zone_load_balancing = true

  subnet_mapping {
    subnet_id     = "subnet-0a1b2c3d4e5f60001"
    allocation_id = "eipalloc-0a1b2c3d4e5f60001"
  }
}
