#!/usr/bin/env bash
# Benchmarks (release build), printing figures and their budgets measured in one run each:
# the provider's overhead, then the controller on a real kube-apiserver + moto (latency, and at
# 1,000 and 10,000 bindings under an ELBv2 API budget: restarts, steady state, memory), then the
# zero-downtime proofs under load through elb-dataplane (requests, failures, p99, with their controls).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
cargo bench -p terraform-provider-elbv2 --bench provider
cargo bench -p terraform-provider-elbv2 --bench front_door
cargo bench -p tgbind-controller --bench controller
cargo bench -p tgbind-controller --bench readiness
# 1,000 and 10,000 bindings under an ELBv2 budget (TGBIND_BENCH_SCALE=1000 for a shorter run).
cargo bench -p tgbind-controller --bench scale

echo "== zero downtime under 200 requests/s through elb-dataplane (an emulator in front of moto, not AWS)"
bash scripts/cluster-migration.sh 2>&1 | grep -E '^load:|failed requests|FAIL'
MIGRATION_CONTROL=1 bash scripts/cluster-migration.sh 2>&1 | grep -E '^load:|^control:|FAIL'
cargo test --release -p tgbind-controller --test traffic -- --nocapture 2>&1 | grep -E '^(rolling update|draining)|test result'
