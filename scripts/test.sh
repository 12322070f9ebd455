#!/usr/bin/env bash
# Sets up everything the tests need (idempotent, cached under $HOME/.cache/tgbind) and runs them:
# formatting, lints, unit tests and the end-to-end tests against moto_server and real Terraform,
# the packaged chart, both walkthroughs and the suite-wide log scan. Ends with the time each phase
# took. The coverage-guided fuzzing is its own command, `bash scripts/fuzz.sh`: its instrumented
# build alone took 13 minutes of a 49-minute CI run, while the tests below already run every fuzz
# body on generated inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PHASES=()
phase_started=$SECONDS
phase_name=""
# phase NAME: ends the running phase (recording its time) and starts NAME.
phase() {
  if [ -n "$phase_name" ]; then
    PHASES+=("$(printf '%6ds  %s' $((SECONDS - phase_started)) "$phase_name")")
  fi
  phase_name=$1
  phase_started=$SECONDS
  [ -n "$phase_name" ] && echo "== $phase_name"
  return 0
}
report_phases() {
  phase ""
  echo "== time per phase"
  printf '%s\n' "${PHASES[@]}"
  printf '%6ds  total\n' "$SECONDS"
}
trap report_phases EXIT

phase "setup (venv, Terraform 1.0.3 and 1.15, kube-apiserver)"
bash scripts/setup.sh

phase "cargo fmt --check"
cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Every log the suite writes is kept here and scanned for credentials at the end.
export TGBIND_TEST_LOGS="$TGBIND_CACHE/test-logs"
rm -rf "$TGBIND_TEST_LOGS"
mkdir -p "$TGBIND_TEST_LOGS"
phase "cargo test"
# --show-output: the figures tests print (storm, failover, fuzz, corpora) appear in the log.
# The fuzz bodies get a short smoke run here (coverage-guided: scripts/fuzz.sh).
TGBIND_FUZZ_SECONDS=5 cargo test --workspace -- --show-output 2>&1 | tee "$TGBIND_TEST_LOGS/cargo-test.log"
phase "chart package (Helm v4 library) and the same checks on the packaged chart"
bash scripts/package-chart.sh --out "$TGBIND_CACHE/dist/charts"
chart_version=$(sed -n 's/^version = "\(.*\)"/\1/p' controller/Cargo.toml | sed -n 1p)
"$TGBIND_VENV/bin/python" scripts/check-chart.py "$TGBIND_CACHE/dist/charts/tgbind-controller-$chart_version.tgz" | tail -n 1
phase "quickstart (non-interactive, on the test build)"
QUICKSTART_PROFILE=debug bash scripts/quickstart.sh >"$TGBIND_CACHE/quickstart.log" 2>&1 || {
  tail -n 60 "$TGBIND_CACHE/quickstart.log"
  echo "quickstart failed (full log: $TGBIND_CACHE/quickstart.log)"
  exit 1
}
tail -n 12 "$TGBIND_CACHE/quickstart.log"
phase "cluster migration walkthrough (two apiservers, two controllers, weights shifted in Terraform)"
QUICKSTART_PROFILE=debug bash scripts/cluster-migration.sh >"$TGBIND_CACHE/cluster-migration.log" 2>&1 || {
  tail -n 80 "$TGBIND_CACHE/cluster-migration.log"
  echo "cluster migration walkthrough failed (full log: $TGBIND_CACHE/cluster-migration.log)"
  exit 1
}
grep -E '^\s+\[|^load:|^answered by|failed requests|no moment|removed exactly|passed' "$TGBIND_CACHE/cluster-migration.log"
phase "cluster migration control (health gate skipped: the same load check must see requests fail)"
MIGRATION_CONTROL=1 QUICKSTART_PROFILE=debug bash scripts/cluster-migration.sh >"$TGBIND_CACHE/cluster-migration-control.log" 2>&1 || {
  tail -n 80 "$TGBIND_CACHE/cluster-migration-control.log"
  echo "cluster migration control run failed (full log: $TGBIND_CACHE/cluster-migration-control.log)"
  exit 1
}
grep -E '^load:|^control:' "$TGBIND_CACHE/cluster-migration-control.log"
cp "$TGBIND_CACHE/quickstart.log" "$TGBIND_TEST_LOGS/quickstart-transcript.log"
cp "$TGBIND_CACHE/cluster-migration.log" "$TGBIND_TEST_LOGS/cluster-migration-transcript.log"
cp "$TGBIND_CACHE/cluster-migration-control.log" "$TGBIND_TEST_LOGS/cluster-migration-control-transcript.log"
phase "no credentials or tokens in the logs of the whole suite"
python3 scripts/scan-logs.py --self-test
python3 scripts/scan-logs.py "$TGBIND_TEST_LOGS"
phase ""
