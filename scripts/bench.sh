#!/usr/bin/env bash
# Benchmarks (release build), printing figures and their budgets measured in one run each:
# the provider's overhead, then the controller on a real kube-apiserver + moto.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
cargo bench -p terraform-provider-elbv2 --bench provider
cargo bench -p terraform-provider-elbv2 --bench front_door
cargo bench -p tgbind-controller --bench controller
cargo bench -p tgbind-controller --bench readiness
