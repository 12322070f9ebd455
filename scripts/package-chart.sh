#!/usr/bin/env bash
# Packages charts/tgbind-controller with the Helm v4 library (no helm binary): the chart's version
# and appVersion are the controller crate's version, so chart, image tag and binary always agree.
#
#   package-chart.sh [--out DIR]      (default $TGBIND_CACHE/dist/charts)
#
# Writes DIR/tgbind-controller-X.Y.Z.tgz and DIR/index.yaml (a chart repository index: serve DIR
# over HTTPS and `helm repo add`, or install the .tgz directly).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
OUT="$TGBIND_CACHE/dist/charts"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    *) echo "package-chart.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' controller/Cargo.toml | sed -n 1p)
mkdir -p "$OUT"
"$TGBIND_VENV/bin/python" - "$OUT" "$VERSION" <<'PY'
import sys
import helm_python as helm
out, version = sys.argv[1], sys.argv[2]
archive = helm.package("charts/tgbind-controller", destination=out, version=version, app_version=version)
index = helm.repo_index_generate(out)
entries = index["entries"]["tgbind-controller"]
print(f"{archive} ({helm.digest(archive)}), index.yaml lists {', '.join(e['version'] for e in entries)}")
PY
