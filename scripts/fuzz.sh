#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the stable toolchain: the targets in fuzz/ (DynamicValue
# decoders, validation + planning, CRD / EndpointSlice decoding and the networking rules) built with
# SanitizerCoverage through scripts/fuzz-rustc.sh, each run for a bounded time from a copy of its
# seed corpus (CI never writes into the clone). A crash fails the run and keeps the input.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 20)
# (With nightly and cargo-fuzz, `cargo +nightly fuzz run <target>` runs the same targets with ASan.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
SECONDS_PER_TARGET=${1:-20}
ROOT=$PWD
export CARGO_TARGET_DIR="$TGBIND_CACHE/target-fuzz"
export RUSTC_WRAPPER="$ROOT/scripts/fuzz-rustc.sh"
cargo build --quiet --manifest-path fuzz/Cargo.toml --bins
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS="$TGBIND_CACHE/fuzz-artifacts"
mkdir -p "$ARTIFACTS"
for target in dynamic_value plan crd; do
  mkdir -p "$WORK/$target"
  cp fuzz/corpus/"$target"/* "$WORK/$target/" 2>/dev/null || true
  seeds=$(find "$WORK/$target" -type f | wc -l)
  if ! "$CARGO_TARGET_DIR/debug/$target" "$WORK/$target" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target-" \
    >"$WORK/$target.log" 2>&1; then
    tail -n 40 "$WORK/$target.log"
    echo "fuzz $target: crash; input kept under $ARTIFACTS"
    exit 1
  fi
  # libFuzzer's last status line: executions, coverage (edges) and features reached.
  done_line=$(grep -E '^#[0-9]+\s+DONE' "$WORK/$target.log" | tail -n 1)
  runs=$(grep -oE 'number_of_executed_units: [0-9]+' "$WORK/$target.log" | grep -oE '[0-9]+$')
  echo "fuzz $target (libFuzzer, coverage-guided, ${SECONDS_PER_TARGET}s): $runs inputs; $seeds seeds -> corpus $(find "$WORK/$target" -type f | wc -l); ${done_line#*DONE   }"
  [ "${runs:-0}" -gt 100 ] || { echo "fuzz $target: only ${runs:-0} inputs ran"; exit 1; }
done
