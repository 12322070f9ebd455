#!/usr/bin/env bash
# The cluster migration walkthrough, end to end and checked: emulated AWS behind elb-dataplane (real
# health checks and routing), two real kube-apiservers (clusters A and B) each with tgbind-controller
# and three pods that serve, examples/cluster-migration applied with Terraform, then
# examples/cluster-migration/migrate.sh moving Service web from A to B while 200 requests/s go
# through the load balancer. The run fails on any failed request, or if a target group that receives
# traffic ever has no healthy target (a watcher polls); after retiring A, group a must hold exactly
# cluster B's targets, and A's pods are stopped with the load still running.
#
# MIGRATION_CONTROL=1 runs the control instead: the same migration with the health gate skipped
# (all traffic to B at once, before its targets pass their health checks); it passes only if
# requests fail, which shows the load check can catch a migration that loses requests.
set -euo pipefail
source "$(dirname "$0")/lib/demo.sh"
prepare

MOTO_PID=""
WATCHER_PID=""
LOAD_PID=""
CONTROL=${MIGRATION_CONTROL:-}
cleanup() {
  set +e
  [ -n "$WATCHER_PID" ] && kill "$WATCHER_PID" 2>/dev/null
  [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
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
start_pods a-1=10.42.0.11 a-2=10.42.0.12 a-3=10.42.0.13
A_PODS=("${POD_PIDS[@]}")
start_pods b-1=10.42.1.21 b-2=10.42.1.22 b-3=10.42.1.23
write_slice "$WORK/kube-a/kubeconfig" web 10.42.0.11 10.42.0.12 10.42.0.13
write_slice "$WORK/kube-b/kubeconfig" web 10.42.1.21 10.42.1.22 10.42.1.23

step "Cluster A serves all traffic: binding web-a on group a"
sed -e "s|NAME|web-a|" -e "s|TARGET_GROUP_ARN|$GROUP_A|" "$ROOT/examples/cluster-migration/k8s/binding.yaml" |
  "$KUBECTL" --kubeconfig "$WORK/kube-a/kubeconfig" apply -f -
# Three passing health checks at default settings (interval 30 s, threshold 5: 150 s in AWS; 15 s
# here, time-scaled by the data plane).
for _ in $(seq 6); do
  [ "$("$KUBECTL" --kubeconfig "$WORK/kube-a/kubeconfig" get tgb web-a -o jsonpath='{.status.healthyTargets}')" = 3 ] && break
  sleep 5
done
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

LB_ADDRESS=$(listener_address "$LISTENER")
step "200 requests/s through the load balancer (elb-dataplane serves the listener on $LB_ADDRESS)"
"$TRAFFIC" load --address "$LB_ADDRESS" --rate 200 --seconds 900 --stop-file "$WORK/stop-load" >"$WORK/load.json" &
LOAD_PID=$!
sleep 2

if [ -n "$CONTROL" ]; then
  step "CONTROL: migrate.sh with the health gate skipped (all traffic to B before its targets are healthy)"
  MIGRATION_ENV=(SKIP_HEALTH_GATE=1 STEPS=100)
else
  step "examples/cluster-migration/migrate.sh: cluster A -> cluster B"
  MIGRATION_ENV=()
fi
env ${MIGRATION_ENV[@]+"${MIGRATION_ENV[@]}"} TERRAFORM="$TGBIND_TERRAFORM" AFTER_STEP="$PY $WORK/check.py $ENDPOINT $LISTENER" \
  bash "$ROOT/examples/cluster-migration/migrate.sh" "$WORK/tf" "$WORK/kube-a/kubeconfig" "$WORK/kube-b/kubeconfig" ||
  [ -n "$CONTROL" ] # the control's check may stop it: it shifted to a group with no healthy target

step "Cluster A's pods stop (they no longer get requests); the load runs 3 s more"
kill "${A_PODS[@]}" 2>/dev/null || true
sleep 3
touch "$WORK/stop-load" "$WORK/stop-watch"
wait "$LOAD_PID"
LOAD_PID=""
wait "$WATCHER_PID" || true
WATCHER_PID=""
step "Checking the whole run"
"$PY" - "$WORK/load.json" "${CONTROL:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
control = bool(sys.argv[2])
print(f"load: {r['requests']} requests at {r['rate']:.0f}/s through the migration, {r['failed']} failed "
      f"{r['failures']}, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
print("answered by: " + ", ".join(f"{pod} {n}" for pod, n in sorted(r["answered_by"].items())))
if control:
    if r["failed"] == 0:
        sys.exit("CONTROL FAILED: shifting before health lost no request, so the check could not catch it")
    print(f"control: {r['failed']} requests failed (seconds {r['failed_at_seconds']} of the run) when traffic moved "
          "before cluster B's targets were healthy: the load check catches an unsafe migration")
    sys.exit(0)
if r["failed"]:
    sys.exit(f"FAIL: {r['failed']} requests failed during the migration")
if r["rate"] < 180:
    sys.exit(f"FAIL: the load ran at {r['rate']:.0f}/s, under 200/s")
print("0 failed requests through the whole migration")
PY
if [ -n "$CONTROL" ]; then
  step "Control run passed (requests failed without the health gate)"
  exit 0
fi
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
def ips(arn):  # registered targets (a deregistered one is reported `draining` until its delay ends)
    return sorted(h["Target"]["Id"] for h in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
                  if h["TargetHealth"]["State"] != "draining")
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
