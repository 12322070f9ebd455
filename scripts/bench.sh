#!/usr/bin/env bash
# Benchmarks (release build), printing figures and their budgets measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
cargo bench -p terraform-provider-elbv2 --bench provider
