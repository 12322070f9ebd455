#!/usr/bin/env bash
# The local quickstart: emulated AWS (moto) on loopback, `terraform apply` of examples/quickstart
# with the elbv2 provider, then a look at what was created. Cleans up on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ROOT=$PWD

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Setting up tools (cached in $TGBIND_CACHE)"
bash scripts/setup.sh

step "Building the provider (release)"
cargo build --release -p terraform-provider-elbv2
PROVIDER_DIR="$CARGO_TARGET_DIR/release"

WORK=$(mktemp -d)
MOTO_PID=""
cleanup() {
  set +e
  if [ -n "$MOTO_PID" ]; then
    if [ -f "$WORK/tf/terraform.tfstate" ]; then
      step "Destroying what the quickstart created"
      (cd "$WORK/tf" && "$TGBIND_TERRAFORM" destroy -auto-approve -no-color -var "vpc_id=$VPC_ID" -var "endpoint_url=$ENDPOINT" >/dev/null && echo "destroyed")
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
VPC_ID=$("$TGBIND_VENV/bin/python" - "$ENDPOINT" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
for i, az in enumerate(["us-east-1a", "us-east-1b"]):
    ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=az)
print(vpc)
PY
)
echo "VPC $VPC_ID"

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
"$TGBIND_TERRAFORM" apply -auto-approve -no-color -var "vpc_id=$VPC_ID" -var "endpoint_url=$ENDPOINT" 2>&1 | grep -v -e 'development overrides' -e '^ - tgbind' -e 'configuration:$' -e 'may therefore not match' -e 'applying changes may cause' -e 'releases\.$' -e '^Warning: Provider'
TG_ARN=$("$TGBIND_TERRAFORM" output -raw target_group_arn)

step "A second plan right after apply: nothing to change"
"$TGBIND_TERRAFORM" plan -no-color -detailed-exitcode -var "vpc_id=$VPC_ID" -var "endpoint_url=$ENDPOINT" >/dev/null && echo "No changes."

step "The target group as AWS reports it"
"$TGBIND_VENV/bin/python" - "$ENDPOINT" "$TG_ARN" <<'PY'
import sys, boto3
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1")
tg = elb.describe_target_groups(TargetGroupArns=[sys.argv[2]])["TargetGroups"][0]
print(f"{tg['TargetGroupName']}: {tg['Protocol']}:{tg['Port']} type={tg['TargetType']} health={tg['HealthCheckPath']} every {tg['HealthCheckIntervalSeconds']}s")
tags = elb.describe_tags(ResourceArns=[sys.argv[2]])["TagDescriptions"][0]["Tags"]
print("tags:", ", ".join(f"{t['Key']}={t['Value']}" for t in tags))
PY

cat <<MSG

Done. The target group ARN for a TargetGroupBinding's spec.targetGroupARN:
  $TG_ARN

Against a real AWS account: copy examples/quickstart, leave endpoint_url unset, pass your cluster's
VPC ID (-var vpc_id=vpc-...) and use your usual AWS credentials (profile, SSO, role).
MSG
