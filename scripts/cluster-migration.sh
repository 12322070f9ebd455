#!/usr/bin/env bash
# The cluster migration walkthrough, end to end and checked: emulated AWS, two real kube-apiservers
# (clusters A and B) each with tgbind-controller, examples/cluster-migration applied with Terraform,
# then examples/cluster-migration/migrate.sh moving Service web from A to B. A watcher polls the
# listener and target health throughout and fails the run if a target group that receives traffic
# ever has no healthy target; after retiring A, group a must hold exactly cluster B's targets.
set -euo pipefail
source "$(dirname "$0")/lib/demo.sh"
prepare

MOTO_PID=""
WATCHER_PID=""
cleanup() {
  set +e
  [ -n "$WATCHER_PID" ] && kill "$WATCHER_PID" 2>/dev/null
  finish
}
trap cleanup EXIT INT TERM

start_moto
create_network

step "terraform apply examples/cluster-migration (all traffic to cluster A's group)"
mkdir -p "$WORK/tf"
cp "$ROOT"/examples/cluster-migration/*.tf "$WORK/tf/"
printf '{"vpc_id": "%s", "subnet_ids": %s, "endpoint_url": "%s"}\n' "$VPC_ID" "$SUBNETS" "$ENDPOINT" >"$WORK/tf/terraform.tfvars.json"
install_provider
(cd "$WORK/tf" && tf init -input=false -no-color && tf apply -auto-approve -no-color -input=false)
GROUP_A=$(cd "$WORK/tf" && "$TGBIND_TERRAFORM" output -raw target_group_a_arn)
GROUP_B=$(cd "$WORK/tf" && "$TGBIND_TERRAFORM" output -raw target_group_b_arn)
LISTENER=$(cd "$WORK/tf" && "$TGBIND_TERRAFORM" output -raw listener_arn)

for c in a b; do
  step "Cluster ${c^^}: local kube-apiserver, CRD, tgbind-controller, Service web with three pods"
  bash "$ROOT/scripts/local-apiserver.sh" start "$WORK/kube-$c"
  KC="$WORK/kube-$c/kubeconfig"
  "$CONTROLLER" crd | "$KUBECTL" --kubeconfig "$KC" apply --validate=false -f - >/dev/null # see quickstart.sh
  "$KUBECTL" --kubeconfig "$KC" wait --for=condition=Established crd/targetgroupbindings.elbv2.k8s.aws --timeout=30s >/dev/null
  start_controller "$KC" "cluster-$c"
  "$KUBECTL" --kubeconfig "$KC" apply -f "$ROOT/examples/cluster-migration/k8s/service.yaml" >/dev/null
done
write_slice "$WORK/kube-a/kubeconfig" web 10.42.0.11 10.42.0.12 10.42.0.13
write_slice "$WORK/kube-b/kubeconfig" web 10.42.1.21 10.42.1.22 10.42.1.23

step "Cluster A serves all traffic: binding web-a on group a"
sed -e "s|NAME|web-a|" -e "s|TARGET_GROUP_ARN|$GROUP_A|" "$ROOT/examples/cluster-migration/k8s/binding.yaml" |
  "$KUBECTL" --kubeconfig "$WORK/kube-a/kubeconfig" apply -f -
wait_tgb "$WORK/kube-a/kubeconfig" web-a healthyTargets 3

# The checks, in Python with boto3 against the same emulated AWS.
cat >"$WORK/check.py" <<'PY'
"""check.py ENDPOINT LISTENER_ARN [--watch STOPFILE VIOLATIONS] | [STEP]
Every target group the listener sends traffic to (weight > 0) must hold a healthy target."""
import sys, time, boto3
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1")
listener = sys.argv[2]

def snapshot():
    action = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]
    rows = []
    for g in action["ForwardConfig"]["TargetGroups"]:
        health = elb.describe_target_health(TargetGroupArn=g["TargetGroupArn"])["TargetHealthDescriptions"]
        healthy = [f"{h['Target']['Id']}" for h in health if h["TargetHealth"]["State"] == "healthy"]
        rows.append((g["TargetGroupArn"].split("/")[1], g.get("Weight", 1), healthy))
    return rows

def problems(rows):
    return [f"{name} has weight {w} and no healthy target" for name, w, healthy in rows if w > 0 and not healthy]

if len(sys.argv) > 3 and sys.argv[3] == "--watch":
    stop, out = sys.argv[4], sys.argv[5]
    polls = 0
    import os
    while not os.path.exists(stop):
        found = problems(snapshot())
        if found:
            with open(out, "a") as f:
                f.write("; ".join(found) + "\n")
        polls += 1
        time.sleep(0.05)
    with open(out + ".polls", "w") as f:
        f.write(str(polls))
else:
    rows = snapshot()
    step = sys.argv[3] if len(sys.argv) > 3 else ""
    for name, w, healthy in rows:
        print(f"  [{step}] {name:16} weight {w:>3}  healthy {len(healthy)}: {' '.join(sorted(healthy))}")
    found = problems(rows)
    if found:
        print("FAIL: " + "; ".join(found))
        sys.exit(1)
PY
"$PY" "$WORK/check.py" "$ENDPOINT" "$LISTENER" initial
"$PY" "$WORK/check.py" "$ENDPOINT" "$LISTENER" --watch "$WORK/stop-watch" "$WORK/violations" &
WATCHER_PID=$!

step "examples/cluster-migration/migrate.sh: cluster A -> cluster B"
TERRAFORM="$TGBIND_TERRAFORM" AFTER_STEP="$PY $WORK/check.py $ENDPOINT $LISTENER" \
  bash "$ROOT/examples/cluster-migration/migrate.sh" "$WORK/tf" "$WORK/kube-a/kubeconfig" "$WORK/kube-b/kubeconfig"

touch "$WORK/stop-watch"
wait "$WATCHER_PID"
WATCHER_PID=""
step "Checking the whole run"
echo "watcher: $(cat "$WORK/violations.polls") polls of the listener and target health during the migration"
if [ -s "$WORK/violations" ]; then
  echo "FAIL: a target group receiving traffic had no healthy target:" >&2
  sort -u "$WORK/violations" >&2
  exit 1
fi
echo "no moment without a healthy target in a group receiving traffic"

"$PY" - "$ENDPOINT" "$GROUP_A" "$GROUP_B" <<'PY'
import sys, boto3
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1")
def ips(arn):
    return sorted(h["Target"]["Id"] for h in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"])
cluster_b = ["10.42.1.21", "10.42.1.22", "10.42.1.23"]
a, b = ips(sys.argv[2]), ips(sys.argv[3])
print(f"group a: {a}\ngroup b: {b}")
assert a == cluster_b, f"retiring A must remove exactly A's targets from group a, found {a}"
assert b == cluster_b, f"group b must hold cluster B's targets, found {b}"
print("retiring cluster A removed exactly its targets; cluster B's stayed")
PY
if "$KUBECTL" --kubeconfig "$WORK/kube-a/kubeconfig" get configmap aws-lbc-targets-web-a >/dev/null 2>&1; then
  echo "FAIL: cluster A's ownership record is left behind" >&2
  exit 1
fi
step "Migration walkthrough passed"
