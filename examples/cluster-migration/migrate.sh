#!/usr/bin/env bash
# Moves Service web from cluster A to cluster B with no moment without healthy targets.
#
#   migrate.sh TERRAFORM_DIR KUBECONFIG_A KUBECONFIG_B
#
# TERRAFORM_DIR holds this example applied with weight_b = 0 (its other variables in a tfvars file);
# cluster A runs binding web-a on target group a (k8s/binding.yaml). Steps:
#   1. cluster B binds its pods to group b, and joins group a as well, so the group that carries all
#      traffic already spreads over both clusters (multiClusterTargetGroup);
#   2. weight_b goes 25, 50, 75, 100 through `terraform apply`, each step only after the
#      elbv2_target_group data source reports at least MIN_HEALTHY healthy targets in group b
#      (waiting up to HEALTH_TIMEOUT seconds for the load balancer's health checks to pass);
#   3. cluster A's binding is deleted: exactly A's targets leave group a, B's stay.
# Environment: STEPS (default "25 50 75 100"), MIN_HEALTHY (default 1), HEALTH_TIMEOUT (default 600),
# TERRAFORM, KUBECTL, AFTER_STEP (a command run after each step with the step's name, e.g. a check).
# SKIP_HEALTH_GATE=1 shifts without waiting for health: never in earnest; the walkthrough's control
# run uses it to show that requests fail when traffic moves to targets not yet healthy.
set -euo pipefail
TF_DIR=${1:?usage: migrate.sh TERRAFORM_DIR KUBECONFIG_A KUBECONFIG_B}
KUBE_A=${2:?usage: migrate.sh TERRAFORM_DIR KUBECONFIG_A KUBECONFIG_B}
KUBE_B=${3:?usage: migrate.sh TERRAFORM_DIR KUBECONFIG_A KUBECONFIG_B}
HERE=$(cd "$(dirname "$0")" && pwd)
TERRAFORM=${TERRAFORM:-terraform}
KUBECTL=${KUBECTL:-kubectl}
STEPS=${STEPS:-25 50 75 100}
MIN_HEALTHY=${MIN_HEALTHY:-1}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-600}

say() { printf '\n--- %s\n' "$*"; }
after_step() { [ -z "${AFTER_STEP:-}" ] || $AFTER_STEP "$1"; }
output() { (cd "$TF_DIR" && "$TERRAFORM" output -raw "$1"); }

# bind KUBECONFIG NAME ARN: applies k8s/binding.yaml and waits until the binding is Ready.
bind() {
  sed -e "s|NAME|$2|" -e "s|TARGET_GROUP_ARN|$3|" "$HERE/k8s/binding.yaml" | "$KUBECTL" --kubeconfig "$1" apply -f -
  "$KUBECTL" --kubeconfig "$1" wait --for=condition=Ready "targetgroupbinding/$2" --timeout=120s
}

GROUP_A=$(output target_group_a_arn)
GROUP_B=$(output target_group_b_arn)

say "Cluster B binds its pods to group b, and joins group a"
bind "$KUBE_B" web-b "$GROUP_B"
bind "$KUBE_B" web-b-in-a "$GROUP_A"
after_step "cluster-b-bound"

# healthy_b: group b's healthy targets, read afresh through the elbv2_target_group data source.
healthy_b() {
  (cd "$TF_DIR" && "$TERRAFORM" apply -refresh-only -auto-approve -input=false -no-color >/dev/null)
  output healthy_b
}

for weight in $STEPS; do
  if [ "${SKIP_HEALTH_GATE:-}" = 1 ]; then
    healthy="unchecked (SKIP_HEALTH_GATE=1)"
  else
    deadline=$((SECONDS + HEALTH_TIMEOUT))
    while healthy=$(healthy_b) && [ "$healthy" -lt "$MIN_HEALTHY" ]; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "group b has $healthy healthy targets (< $MIN_HEALTHY) after ${HEALTH_TIMEOUT}s: not shifting traffic to it" >&2
        exit 1
      fi
      echo "group b has $healthy healthy targets (< $MIN_HEALTHY): waiting for its health checks"
      sleep 2
    done
  fi
  say "weight_b = $weight (group b has $healthy healthy targets)"
  if ! (cd "$TF_DIR" && "$TERRAFORM" apply -auto-approve -input=false -no-color -var "weight_b=$weight" >"$TF_DIR/apply.log" 2>&1); then
    cat "$TF_DIR/apply.log" >&2
    echo "terraform apply of weight_b = $weight failed" >&2
    exit 1
  fi
  echo "applied weight_b = $weight"
  after_step "weight-$weight"
done

say "Retiring cluster A: deleting its binding (its targets leave group a; cluster B's stay)"
"$KUBECTL" --kubeconfig "$KUBE_A" delete targetgroupbinding web-a --wait=true --timeout=120s
after_step "cluster-a-retired"
say "Done: all traffic goes to cluster B"
