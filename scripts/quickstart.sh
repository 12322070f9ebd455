#!/usr/bin/env bash
# The local quickstart: emulated AWS (moto) and a real kube-apiserver on loopback; `terraform apply`
# of examples/quickstart (ALB, HTTP listener, target group) with the elbv2 provider; tgbind-controller
# binding a Service's endpoints into the target group through a TargetGroupBinding. Cleans up on exit.
set -euo pipefail
source "$(dirname "$0")/lib/demo.sh"
prepare

MOTO_PID=""
TF_VARS=()
cleanup() {
  set +e
  if [ ${#CONTROLLER_PIDS[@]} -gt 0 ]; then
    step "Deleting the TargetGroupBinding (its targets are deregistered), stopping the controller"
    "$KUBECTL" --kubeconfig "$WORK/kube/kubeconfig" delete targetgroupbinding demo --wait=true --timeout=30s
  fi
  finish "${TF_VARS[@]}"
}
trap cleanup EXIT INT TERM

start_moto
create_network
create_security_groups
TF_VARS=(-var "vpc_id=$VPC_ID" -var "subnet_ids=$SUBNETS" -var "security_group_ids=[\"$LB_SG\"]" -var "endpoint_url=$ENDPOINT")

step "terraform apply examples/quickstart"
mkdir -p "$WORK/tf"
cp "$ROOT"/examples/quickstart/*.tf "$WORK/tf/"
install_provider
cd "$WORK/tf"
tf init -input=false -no-color
echo "installed tgbind/elbv2 from a provider mirror; .terraform.lock.hcl records its checksum"
tf apply -auto-approve -no-color -input=false "${TF_VARS[@]}"
TG_ARN=$("$TGBIND_TERRAFORM" output -raw target_group_arn)
DNS_NAME=$("$TGBIND_TERRAFORM" output -raw dns_name)
LISTENER_ARN=$("$TGBIND_TERRAFORM" output -raw listener_arn)

step "A second plan right after apply: nothing to change"
"$TGBIND_TERRAFORM" plan -no-color -detailed-exitcode "${TF_VARS[@]}" >/dev/null && echo "No changes."

step "Starting a local kube-apiserver + etcd (built from Debian's kubernetes sources)"
bash "$ROOT/scripts/local-apiserver.sh" start "$WORK/kube"
export KUBECONFIG="$WORK/kube/kubeconfig"
"$KUBECTL" version 2>/dev/null | tail -n 1

step "Installing the TargetGroupBinding CRD and starting tgbind-controller"
# --validate=false: kubectl checks a CRD against the server's own schema, and API servers before 1.23
# do not know `x-kubernetes-validations` (the CRD's CEL rules); they store the CRD without them.
"$CONTROLLER" crd | "$KUBECTL" apply --validate=false -f -
"$KUBECTL" wait --for=condition=Established crd/targetgroupbindings.elbv2.k8s.aws --timeout=30s
start_controller "$KUBECONFIG" controller

step "Creating Service demo: three pods that serve, and its EndpointSlice (no kubelet here, so we write it)"
"$KUBECTL" apply -f "$ROOT/examples/quickstart/k8s/service.yaml"
start_pods demo-1=10.42.0.11 demo-2=10.42.0.12 demo-3=10.42.1.13
create_pod_interfaces 10.42.0.11 10.42.0.12 10.42.1.13
write_slice "$KUBECONFIG" demo 10.42.0.11 10.42.0.12 10.42.1.13

step "Applying a TargetGroupBinding (the reference manifest, with the ARN from terraform output)"
sed -e "s|TARGET_GROUP_ARN|$TG_ARN|" -e "s|LOAD_BALANCER_SECURITY_GROUP|$LB_SG|" \
  "$ROOT/examples/quickstart/k8s/targetgroupbinding.yaml" | "$KUBECTL" apply -f -
wait_tgb "$KUBECONFIG" demo registeredTargets 3
"$KUBECTL" get targetgroupbindings

show_targets() {
  "$PY" - "$ENDPOINT" "$TG_ARN" <<'PY'
import sys, boto3
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1")
for d in elb.describe_target_health(TargetGroupArn=sys.argv[2])["TargetHealthDescriptions"]:
    print(f"  {d['Target']['Id']}:{d['Target']['Port']}  {d['TargetHealth']['State']}")
PY
}
step "Targets registered in the target group"
show_targets

step "spec.networking: the nodes' security group now admits the load balancer (rule added by the controller)"
# (Output captured before matching: `| grep -q` would close the pipe early, a SIGPIPE under pipefail.)
for _ in $(seq 100); do rules=$(show_ingress "$NODE_SG"); [[ "$rules" == *"$LB_SG"* ]] && break; sleep 0.1; done
show_ingress "$NODE_SG" | grep "$LB_SG"

# answered_by REPORT: who answered, and the failures, from a `traffic load` report.
answered_by() {
  "$PY" - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"  {r['requests']} requests, {r['failed']} failed, p99 {r['p99_ms']:.1f} ms; answered by:")
for pod, n in sorted(r["answered_by"].items()):
    print(f"    {pod}: {n}")
sys.exit(1 if r["failed"] else 0)
PY
}

step "Requests through the load balancer (elb-dataplane serves listener port 80 on $(listener_address "$LISTENER_ARN"))"
wait_tgb "$KUBECONFIG" demo healthyTargets 3
LB_ADDRESS=$(listener_address "$LISTENER_ARN")
answered_by "$(send_load "$LB_ADDRESS" 2)"

step "Scaling the Service to four pods: the new endpoint is registered within milliseconds"
start_pods demo-4=10.42.1.14
create_pod_interfaces 10.42.1.14
write_slice "$KUBECONFIG" demo 10.42.0.11 10.42.0.12 10.42.1.13 10.42.1.14
wait_tgb "$KUBECONFIG" demo registeredTargets 4
"$KUBECTL" get targetgroupbindings -o wide
echo "(a new target is initial until the load balancer's health checks pass; the controller re-checks health until all are healthy)"
wait_tgb "$KUBECONFIG" demo healthyTargets 4
"$KUBECTL" get targetgroupbindings -o wide
show_targets

step "Requests through the load balancer again: the new pod answers too"
REPORT=$(send_load "$LB_ADDRESS" 2)
answered_by "$REPORT"
"$PY" -c 'import json, sys; sys.exit(0 if "demo-4" in json.loads(sys.argv[1])["answered_by"] else 1)' "$REPORT" ||
  fail "the new pod demo-4 answered no request"

cat <<MSG

Done. The ALB $DNS_NAME forwards port 80 to the target group
  $TG_ARN
which tgbind-controller keeps filled with the Service's ready pods.

Against a real AWS account and EKS cluster: copy examples/quickstart, leave endpoint_url unset, pass
your cluster's VPC ID, two public subnets and the load balancer's security group (-var vpc_id=vpc-...
-var 'subnet_ids=["subnet-a","subnet-b"]' -var 'security_group_ids=["sg-..."]') and use your usual AWS credentials; install the controller
with: helm install tgbind-controller charts/tgbind-controller -n kube-system --set clusterName=<cluster>
(IAM role through EKS Pod Identity or IRSA, see docs/iam-policy.json), then apply
examples/quickstart/k8s/targetgroupbinding.yaml with your ARN and that security group. Kubernetes writes the EndpointSlices.
MSG
