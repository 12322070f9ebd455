#!/usr/bin/env bash
# Benchmarks (release build), printing figures and their budgets measured in one run each:
# the provider's overhead, then the controller on a real kube-apiserver + moto, then the
# zero-downtime proofs under load through elb-dataplane (requests, failures, p99, with their controls).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
cargo bench -p terraform-provider-elbv2 --bench provider
cargo bench -p terraform-provider-elbv2 --bench front_door
cargo bench -p tgbind-controller --bench controller
cargo bench -p tgbind-controller --bench readiness

echo "== zero downtime under 200 requests/s through elb-dataplane (an emulator in front of moto, not AWS)"
bash scripts/cluster-migration.sh 2>&1 | grep -E '^load:|failed requests|FAIL'
MIGRATION_CONTROL=1 bash scripts/cluster-migration.sh 2>&1 | grep -E '^load:|^control:|FAIL'
cargo test --release -p tgbind-controller --test traffic -- --nocapture 2>&1 | grep -E '^(rolling update|draining)|test result'
