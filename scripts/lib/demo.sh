# Shared by scripts/quickstart.sh and scripts/cluster-migration.sh: the preamble (repository root,
# caches, a scratch directory, tools and binaries), emulated AWS with a load-balancer data plane
# (elb-dataplane: real health checks and routing), pods that serve, a load generator, the network the examples need,
# Terraform pointed at the locally built provider, and EndpointSlices written as a cluster would
# (there is no kubelet). Source it under `set -euo pipefail`; it sets ROOT and WORK.

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/env.sh
ROOT=$PWD
WORK=$(mktemp -d)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# fail MESSAGE [LOG]: says what failed and, when given, where its log is (with its last lines).
fail() {
  echo "FAILED: $1" >&2
  if [ -n "${2:-}" ]; then
    echo "  log: $2 (last lines below)" >&2
    tail -n 20 "$2" >&2 || true
  fi
  return 1
}

KUBECTL="$TGBIND_VENV/bin/kubectl"
PY="$TGBIND_VENV/bin/python"

# prepare: tools (cached) and the binaries, the first steps of every walkthrough.
prepare() {
  step "Setting up tools (cached in $TGBIND_CACHE)"
  bash scripts/setup.sh
  build_binaries
}

# build_binaries: the provider and controller for $PROFILE (release unless QUICKSTART_PROFILE=debug,
# which reuses the test build), and the test substrate's data plane and traffic tools; sets
# PROVIDER_DIR, CONTROLLER, DATAPLANE and TRAFFIC.
build_binaries() {
  PROFILE=${QUICKSTART_PROFILE:-release}
  step "Building the provider, the controller and the test substrate's elb-dataplane ($PROFILE)"
  local args=(-p terraform-provider-elbv2 -p tgbind-controller --bin terraform-provider-elbv2 --bin tgbind-controller)
  args+=(-p tgbind-testkit --bin elb-dataplane --bin traffic)
  if [ "$PROFILE" = release ]; then
    cargo build --release "${args[@]}"
  else
    cargo build "${args[@]}"
  fi
  PROVIDER_DIR="$CARGO_TARGET_DIR/$PROFILE"
  CONTROLLER="$CARGO_TARGET_DIR/$PROFILE/tgbind-controller"
  DATAPLANE="$CARGO_TARGET_DIR/$PROFILE/elb-dataplane"
  TRAFFIC="$CARGO_TARGET_DIR/$PROFILE/traffic"
}

# start_moto: moto_server on a free loopback port; sets ENDPOINT and MOTO_PID.
start_moto() {
  local port
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ENDPOINT="http://127.0.0.1:$port"
  step "Starting emulated AWS (moto_server) on $ENDPOINT"
  "$TGBIND_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  local up=""
  for _ in $(seq 300); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && { up=1; break; }
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || fail "moto_server did not listen on port $port within 30 s" "$WORK/moto.log"
  MOTO_ENDPOINT=$ENDPOINT
  start_dataplane
  # The test suite's distinctive credentials (testkit/src/secrets.rs), so its log scan covers these runs.
  export AWS_ACCESS_KEY_ID=AKIATGBINDSUITE00001 AWS_SECRET_ACCESS_KEY='tgbind+suite/Secret-4kq9Zr7wXb' AWS_REGION=us-east-1
}

# start_dataplane: elb-dataplane in front of moto; everything (Terraform, the controllers, the
# checks) then talks to it, and ENDPOINT becomes its address. Health-check intervals, timeouts and
# deregistration delays run DATAPLANE_TIME_SCALE (default 10) times faster than configured; pod
# addresses in 10.42.0.0/16 are served on 127.42.0.0/16. Sets DATAPLANE_PID.
start_dataplane() {
  "$DATAPLANE" --upstream "$MOTO_ENDPOINT" --time-scale "${DATAPLANE_TIME_SCALE:-10}" --refresh-ms 500 \
    --reach 10.42.0.0/16=127.42.0.0 >"$WORK/dataplane.out" 2>"$WORK/dataplane.log" &
  DATAPLANE_PID=$!
  for _ in $(seq 100); do
    [ -s "$WORK/dataplane.out" ] && break
    kill -0 "$DATAPLANE_PID" 2>/dev/null || break
    sleep 0.1
  done
  ENDPOINT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$WORK/dataplane.out") ||
    fail "elb-dataplane did not start" "$WORK/dataplane.log"
  echo "elb-dataplane on $ENDPOINT in front of moto (real health checks and routing; an emulator, not AWS)"
}

# start_pods NAME=IP...: a serving pod per pair (answers every request with its name), on the
# loopback address elb-dataplane reaches IP at; each keeps serving 2 s after SIGTERM. Appends to POD_PIDS.
POD_PIDS=()
start_pods() {
  local pair ip
  for pair in "$@"; do
    ip=${pair#*=}
    "$TRAFFIC" pod --name "${pair%%=*}" --listen "127.${ip#10.}:8080" --grace 2s &
    POD_PIDS+=($!)
  done
}

# listener_address LISTENER_ARN: where elb-dataplane serves the listener (host:port).
listener_address() {
  local address=""
  for _ in $(seq 100); do
    address=$(curl -sf "$ENDPOINT/dataplane/listeners" | "$PY" -c '
import json, sys
print(next((l["address"] for l in json.load(sys.stdin) if l["listener_arn"] == sys.argv[1]), ""))' "$1") || true
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || fail "elb-dataplane never served $1"
  echo "$address"
}

# send_load ADDRESS SECONDS [RATE]: requests through the load balancer; prints the JSON report.
send_load() {
  "$TRAFFIC" load --address "$1" --seconds "$2" --rate "${3:-200}"
}

# create_network: a VPC with two subnets in two zones through the EC2 API; sets VPC_ID and SUBNETS
# (a JSON list, as a Terraform variable).
create_network() {
  step "Creating a VPC and two subnets through the EC2 API (a cluster's network)"
  read -r VPC_ID SUBNETS < <("$PY" - "$ENDPOINT" <<'PY'
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
}

# create_security_groups: the load balancer's group and the nodes' group in $VPC_ID; sets LB_SG and NODE_SG.
create_security_groups() {
  read -r LB_SG NODE_SG < <("$PY" - "$ENDPOINT" "$VPC_ID" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
ids = [ec2.create_security_group(GroupName=n, Description=n, VpcId=sys.argv[2])["GroupId"] for n in ("demo-alb", "demo-nodes")]
print(*ids)
PY
  )
  echo "load balancer group $LB_SG, nodes group $NODE_SG"
}

# create_pod_interfaces IP...: a network interface per pod IP (10.42.<subnet index>.x) in $NODE_SG, as
# EC2 would hold the pods' addresses.
create_pod_interfaces() {
  "$PY" - "$ENDPOINT" "$VPC_ID" "$NODE_SG" "$@" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
subnets = {s["CidrBlock"].split(".")[2]: s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [sys.argv[2]]}])["Subnets"]}
for ip in sys.argv[4:]:
    ec2.create_network_interface(SubnetId=subnets[ip.split(".")[2]], PrivateIpAddress=ip, Groups=[sys.argv[3]])
PY
}

# show_ingress GROUP: the group's ingress rules, one per line.
show_ingress() {
  "$PY" - "$ENDPOINT" "$1" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
for p in ec2.describe_security_groups(GroupIds=[sys.argv[2]])["SecurityGroups"][0]["IpPermissions"]:
    for peer in p["UserIdGroupPairs"] + p["IpRanges"]:
        print(f"  {p['IpProtocol']} {p['FromPort']}-{p['ToPort']} from {peer.get('GroupId') or peer.get('CidrIp')}  ({peer.get('Description', '')})")
PY
}

# install_provider: releases the provider just built into a mirror in $WORK (zip, SHA256SUMS, the
# registry layout: scripts/release-provider.sh) and points Terraform at it, as a user installs a
# provider: `terraform init` verifies it and records its hash in .terraform.lock.hcl.
install_provider() {
  local version
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/provider/Cargo.toml" | sed -n 1p)
  bash "$ROOT/scripts/release-provider.sh" --version "$version" --binary "$PROVIDER_DIR/terraform-provider-elbv2" \
    --out "$WORK/dist" --mirror "$WORK/mirror" >/dev/null
  cat >"$WORK/cli.tfrc" <<TFRC
provider_installation {
  filesystem_mirror {
    path    = "$WORK/mirror"
    include = ["registry.terraform.io/tgbind/elbv2"]
  }
  direct {
    exclude = ["registry.terraform.io/tgbind/elbv2"]
  }
}
TFRC
  export TF_CLI_CONFIG_FILE="$WORK/cli.tfrc"
}

# tf ARGS...: Terraform (1.0.3 from the setup), quiet unless it fails.
tf() {
  local rc=0
  "$TGBIND_TERRAFORM" "$@" >"$WORK/terraform.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$WORK/terraform.out" >&2
    fail "terraform $1 (exit status $rc)"
  fi
}

# finish [TERRAFORM DESTROY ARGS...]: stops every controller, apiserver and moto this run started,
# destroys what Terraform made in $WORK/tf, keeps the logs for the suite's scan, removes $WORK.
finish() {
  set +e
  if [ ${#CONTROLLER_PIDS[@]} -gt 0 ]; then
    kill "${CONTROLLER_PIDS[@]}" 2>/dev/null
    wait "${CONTROLLER_PIDS[@]}" 2>/dev/null
  fi
  local dir
  for dir in "$WORK"/kube*; do
    [ -f "$dir/apiserver.pid" ] && bash "$ROOT/scripts/local-apiserver.sh" stop "$dir"
  done
  if [ -n "${MOTO_PID:-}" ]; then
    if [ -f "$WORK/tf/terraform.tfstate" ]; then
      step "Destroying what Terraform created"
      (cd "$WORK/tf" && tf destroy -auto-approve -no-color -input=false "$@" && echo "destroyed")
    fi
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
  fi
  local pid
  for pid in ${POD_PIDS[@]+"${POD_PIDS[@]}"} ${DATAPLANE_PID:-}; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  keep_logs
  rm -rf "$WORK"
}

# write_slice KUBECONFIG SERVICE IP...: the Service's EndpointSlice with these ready pods (port http 8080).
write_slice() {
  local kubeconfig=$1 service=$2
  shift 2
  local api endpoints=""
  api=$("$KUBECTL" --kubeconfig "$kubeconfig" api-versions | grep -x 'discovery.k8s.io/v1' || echo discovery.k8s.io/v1beta1)
  for ip in "$@"; do endpoints="$endpoints
  - addresses: [\"$ip\"]
    conditions: {ready: true}"; done
  "$KUBECTL" --kubeconfig "$kubeconfig" apply -f - >/dev/null <<SLICE
apiVersion: $api
kind: EndpointSlice
metadata:
  name: $service-abc12
  namespace: default
  labels:
    kubernetes.io/service-name: $service
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:${endpoints:- []}
SLICE
}

# start_controller KUBECONFIG NAME: tgbind-controller for one cluster, logging to $WORK/NAME.log;
# appends its PID to CONTROLLER_PIDS.
CONTROLLER_PIDS=()
start_controller() {
  AWS_ENDPOINT_URL="$ENDPOINT" KUBECONFIG="$1" POD_NAMESPACE=default CLUSTER_NAME="$2" LOG_FORMAT=text \
    HTTP_ADDR=127.0.0.1:0 "$CONTROLLER" run >"$WORK/$2.log" 2>&1 &
  CONTROLLER_PIDS+=($!)
}

# wait_tgb KUBECONFIG NAME FIELD VALUE: until the binding's status FIELD equals VALUE (20 s), or fail.
wait_tgb() {
  for _ in $(seq 200); do
    [ "$("$KUBECTL" --kubeconfig "$1" get tgb "$2" -o jsonpath="{.status.$3}")" = "$4" ] && return 0
    sleep 0.1
  done
  echo "status.$3 of TargetGroupBinding $2 never reached $4; controller logs:" >&2
  tail -n 30 "$WORK"/*.log >&2
  return 1
}

# keep_logs: under scripts/test.sh (TGBIND_TEST_LOGS set), copies this run's logs for the secret scan.
keep_logs() {
  [ -n "${TGBIND_TEST_LOGS:-}" ] || return 0
  mkdir -p "$TGBIND_TEST_LOGS"
  local f
  for f in "$WORK"/*.log "$WORK"/kube*/apiserver.log; do
    [ -f "$f" ] && cp "$f" "$TGBIND_TEST_LOGS/$(basename "$0" .sh)-$(basename "$(dirname "$f")")-$(basename "$f")"
  done
  return 0
}
