#!/usr/bin/env bash
# Rewrites the registry pages under docs/ from the provider's schemas and examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
TGBIND_BLESS=1 cargo test -p terraform-provider-elbv2 --test docs docs_match_the_schemas
