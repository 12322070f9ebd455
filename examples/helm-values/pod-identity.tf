# The IAM side of pod-identity.yaml, with the terraform-aws-modules eks-pod-identity module: a role
# trusted by pods.eks.amazonaws.com, the controller's policy, and the association with the
# ServiceAccount the chart creates.
module "tgbind_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "~> 1.0"

  name = "tgbind-controller"

  attach_custom_policy    = true
  source_policy_documents = [file("${path.module}/../../docs/iam-policy.json")]

  associations = {
    controller = {
      cluster_name    = "prod-eu-1"
      namespace       = "kube-system"
      service_account = "tgbind-controller"
    }
  }
}
