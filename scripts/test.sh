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
phase "cargo test: build (the test build, and the image test's static binary)"
cargo test --workspace --no-run --quiet
# The image test builds a static binary; built here, its compile does not compete with tests.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --target x86_64-unknown-linux-gnu -p tgbind-controller
phase "cargo test: run, in two lanes at once"
# Most tests wait on apiservers, moto, Terraform and timers rather than compute, so two lanes
# roughly halve the wall time on two cores: the controller's suites, and everything else with the
# container image test. cargo holds its build lock only while building, so the lanes do not wait on
# each other. --show-output: the figures tests print (storm, failover, fuzz, corpora) appear in the
# log. The fuzz bodies get a short smoke run here (coverage-guided: scripts/fuzz.sh).
export TGBIND_FUZZ_SECONDS=5
controller_suites=()
for f in controller/tests/*.rs; do
  name=$(basename "$f" .rs)
  [ "$name" = image ] || controller_suites+=(--test "$name")
done
lane_controller() {
  cargo test -p tgbind-controller --lib --bins "${controller_suites[@]}" -- --show-output
}
lane_rest() {
  cargo test -p tgbind-controller --test image -- --show-output &&
    cargo test -p tgbind-controller --doc &&
    cargo test --workspace --exclude tgbind-controller -- --show-output
}
lane_controller >"$TGBIND_TEST_LOGS/cargo-test-controller.log" 2>&1 &
controller_pid=$!
lane_rest >"$TGBIND_TEST_LOGS/cargo-test-rest.log" 2>&1 &
rest_pid=$!
lanes_ok=true
wait "$controller_pid" || lanes_ok=false
wait "$rest_pid" || lanes_ok=false
cat "$TGBIND_TEST_LOGS/cargo-test-controller.log" "$TGBIND_TEST_LOGS/cargo-test-rest.log" >"$TGBIND_TEST_LOGS/cargo-test.log"
cat "$TGBIND_TEST_LOGS/cargo-test.log"
echo "== time per test suite (seconds, both lanes)"
sed -n 's/^ *Running \([^ ]*\) .*/\1/p; s/^ *Doc-tests \(.*\)/doc:\1/p; s/^test result: .* finished in \([0-9.]*\)s$/\1/p' "$TGBIND_TEST_LOGS/cargo-test.log" |
  paste - - | sort -k2 -rn | head -12
$lanes_ok || { echo "cargo test failed (logs: $TGBIND_TEST_LOGS/cargo-test-*.log)"; exit 1; }
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
