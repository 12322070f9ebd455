terraform {
  required_providers {
    elbv2 = {
      source = "tgbind/elbv2"
    }
  }
}

# Credentials, region and endpoints come from the standard AWS chain (environment, profile,
# web identity, instance role); the arguments below override it.
provider "elbv2" {
  region = "eu-west-1"

  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/load-balancers"
  }

  default_tags {
    tags = {
      team = "platform"
    }
  }
}
