#!/usr/bin/env bash
# The local quickstart: emulated AWS (moto) and a real kube-apiserver on loopback; `terraform apply`
# of examples/quickstart with the elbv2 provider; tgbind-controller binding a Service's endpoints
# into the target group through a TargetGroupBinding. Cleans up on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ROOT=$PWD

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# wait_for FIELD VALUE: until the TargetGroupBinding's status FIELD equals VALUE (20 s), or fail.
wait_for() {
  for _ in $(seq 200); do
    [ "$("$KUBECTL" get tgb demo -o jsonpath="{.status.$1}")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "quickstart: status.$1 of TargetGroupBinding demo never reached $2; controller log:" >&2
  tail -n 30 "$WORK/controller.log" >&2
  return 1
}

step "Setting up tools (cached in $TGBIND_CACHE)"
bash scripts/setup.sh

# QUICKSTART_PROFILE=debug reuses the test build (CI runs the quickstart after the tests).
PROFILE=${QUICKSTART_PROFILE:-release}
step "Building the provider and the controller ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release -p terraform-provider-elbv2 -p tgbind-controller
else
  cargo build -p terraform-provider-elbv2 -p tgbind-controller
fi
PROVIDER_DIR="$CARGO_TARGET_DIR/$PROFILE"
CONTROLLER="$CARGO_TARGET_DIR/$PROFILE/tgbind-controller"
KUBECTL="$TGBIND_VENV/bin/kubectl"

WORK=$(mktemp -d)
MOTO_PID=""
CONTROLLER_PID=""
cleanup() {
  set +e
  if [ -n "$CONTROLLER_PID" ]; then
    step "Deleting the TargetGroupBinding (its targets are deregistered), stopping the controller"
    "$KUBECTL" --kubeconfig "$WORK/kube/kubeconfig" delete targetgroupbinding demo --wait=true --timeout=30s
    kill "$CONTROLLER_PID" 2>/dev/null; wait "$CONTROLLER_PID" 2>/dev/null
  fi
  [ -f "$WORK/kube/apiserver.pid" ] && bash "$ROOT/scripts/local-apiserver.sh" stop "$WORK/kube"
  if [ -n "$MOTO_PID" ]; then
    if [ -f "$WORK/tf/terraform.tfstate" ]; then
      step "Destroying what the quickstart created"
      (cd "$WORK/tf" && "$TGBIND_TERRAFORM" destroy -auto-approve -no-color "${TF_VARS[@]}" >/dev/null && echo "destroyed")
    fi
    kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT=$("$TGBIND_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ENDPOINT="http://127.0.0.1:$PORT"
step "Starting emulated AWS (moto_server) on $ENDPOINT"
"$TGBIND_VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
  "$TGBIND_VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=quickstart AWS_SECRET_ACCESS_KEY=quickstart AWS_REGION=us-east-1

step "Creating a VPC and two subnets through the EC2 API (a cluster's network)"
read -r VPC_ID SUBNETS < <("$TGBIND_VENV/bin/python" - "$ENDPOINT" <<'PY'
import json, sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
subnets = [
    ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    for i, az in enumerate(["us-east-1a", "us-east-1b"])
]
print(vpc, json.dumps(subnets, separators=(",", ":")))
PY
)
echo "VPC $VPC_ID, subnets $SUBNETS"
TF_VARS=(-var "vpc_id=$VPC_ID" -var "subnet_ids=$SUBNETS" -var "endpoint_url=$ENDPOINT")

step "terraform apply examples/quickstart"
mkdir -p "$WORK/tf" "$WORK/home"
cp "$ROOT"/examples/quickstart/*.tf "$WORK/tf/"
cat >"$WORK/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "tgbind/elbv2" = "$PROVIDER_DIR"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$WORK/cli.tfrc"
cd "$WORK/tf"
"$TGBIND_TERRAFORM" apply -auto-approve -no-color "${TF_VARS[@]}" 2>&1 | grep -v -e 'development overrides' -e '^ - tgbind' -e 'configuration:$' -e 'may therefore not match' -e 'applying changes may cause' -e 'releases\.$' -e '^Warning: Provider'
TG_ARN=$("$TGBIND_TERRAFORM" output -raw target_group_arn)
DNS_NAME=$("$TGBIND_TERRAFORM" output -raw dns_name)

step "A second plan right after apply: nothing to change"
"$TGBIND_TERRAFORM" plan -no-color -detailed-exitcode "${TF_VARS[@]}" >/dev/null && echo "No changes."

step "Starting a local kube-apiserver + etcd (built from Debian's kubernetes sources)"
bash "$ROOT/scripts/local-apiserver.sh" start "$WORK/kube"
export KUBECONFIG="$WORK/kube/kubeconfig"
"$KUBECTL" version 2>/dev/null | tail -n 1

step "Installing the TargetGroupBinding CRD and starting tgbind-controller"
"$CONTROLLER" crd | "$KUBECTL" apply -f -
"$KUBECTL" wait --for=condition=Established crd/targetgroupbindings.elbv2.k8s.aws --timeout=30s
AWS_ENDPOINT_URL="$ENDPOINT" POD_NAMESPACE=default CLUSTER_NAME=quickstart LOG_FORMAT=text HTTP_ADDR=127.0.0.1:0 \
  "$CONTROLLER" run >"$WORK/controller.log" 2>&1 &
CONTROLLER_PID=$!

step "Creating Service demo and its EndpointSlice (three ready pods; no kubelet here, so we write it)"
"$KUBECTL" apply -f "$ROOT/examples/quickstart/k8s/service.yaml"
SLICE_API=$("$KUBECTL" api-versions | grep -x 'discovery.k8s.io/v1' || echo discovery.k8s.io/v1beta1)
write_slice() {
  local endpoints=""
  for ip in "$@"; do endpoints="$endpoints
  - addresses: [\"$ip\"]
    conditions: {ready: true}"; done
  "$KUBECTL" apply -f - <<SLICE >/dev/null
apiVersion: $SLICE_API
kind: EndpointSlice
metadata:
  name: demo-abc12
  namespace: default
  labels:
    kubernetes.io/service-name: demo
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:$endpoints
SLICE
}
write_slice 10.42.0.11 10.42.0.12 10.42.1.13

step "Applying a TargetGroupBinding (the reference manifest, with the ARN from terraform output)"
sed "s|TARGET_GROUP_ARN|$TG_ARN|" "$ROOT/examples/quickstart/k8s/targetgroupbinding.yaml" | "$KUBECTL" apply -f -
wait_for registeredTargets 3
"$KUBECTL" get targetgroupbindings

show_targets() {
  "$TGBIND_VENV/bin/python" - "$ENDPOINT" "$TG_ARN" <<'PY'
import sys, boto3
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1")
for d in elb.describe_target_health(TargetGroupArn=sys.argv[2])["TargetHealthDescriptions"]:
    print(f"  {d['Target']['Id']}:{d['Target']['Port']}  {d['TargetHealth']['State']}")
PY
}
step "Targets registered in the target group"
show_targets

step "Scaling the Service to four pods: the new endpoint is registered within milliseconds"
write_slice 10.42.0.11 10.42.0.12 10.42.1.13 10.42.1.14
wait_for registeredTargets 4
"$KUBECTL" get targetgroupbindings -o wide
echo "(new targets start unhealthy; the controller re-checks health until all are healthy)"
wait_for healthyTargets 4
"$KUBECTL" get targetgroupbindings -o wide
show_targets

cat <<MSG

Done. The ALB $DNS_NAME forwards port 80 to the target group
  $TG_ARN
which tgbind-controller keeps filled with the Service's ready pods.

Against a real AWS account and EKS cluster: copy examples/quickstart, leave endpoint_url unset, pass
your cluster's VPC ID and two public subnets (-var vpc_id=vpc-... -var 'subnet_ids=["subnet-a","subnet-b"]')
and use your usual AWS credentials; install the controller
with: helm install tgbind-controller charts/tgbind-controller -n kube-system --set clusterName=<cluster>
(IAM role through EKS Pod Identity or IRSA, see docs/iam-policy.json), then apply
examples/quickstart/k8s/targetgroupbinding.yaml with your ARN. Kubernetes writes the EndpointSlices.
MSG
