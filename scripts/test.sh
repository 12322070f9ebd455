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
# Every test executable of that build, as "lane<TAB>directory<TAB>name<TAB>path": lane 1 has the
# controller's suites but the image test, lane 2 the image test first, then everything else.
suites=$(cargo test --workspace --no-run --quiet --message-format=json | python3 -c '
import json, os, sys
rows = []
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        d, name = os.path.dirname(m["manifest_path"]), m["target"]["name"]
        lane = 1 if os.path.basename(d) == "controller" and name != "image" else 2
        rows.append((lane, name != "image", d, name, m["executable"]))
for lane, _, d, name, exe in sorted(rows):
    print(lane, d, name, exe, sep="\t")
')
phase "cargo test: run, in two lanes at once"
# Most tests wait on apiservers, moto, Terraform and timers rather than compute, so two lanes
# roughly halve the wall time on two cores. The executables of the one build above run directly
# (in their package's directory, as cargo runs them), so no lane rebuilds or waits on cargo's lock.
# --show-output: the figures tests print (storm, failover, fuzz, corpora) appear in the log. The
# fuzz bodies get a short smoke run here (coverage-guided: scripts/fuzz.sh).
export TGBIND_FUZZ_SECONDS=5
# run_lane N: runs lane N's suites one after the other; fails if any failed.
run_lane() {
  local ok=true lane dir name exe started
  while IFS=$'\t' read -r lane dir name exe; do
    [ "$lane" = "$1" ] || continue
    started=$SECONDS
    echo "     Running $name ($exe)"
    (cd "$dir" && "$exe" --show-output) 2>&1 || ok=false
    echo "== suite time: $((SECONDS - started))s  $name"
  done <<<"$suites"
  $ok
}
lanes_ok=true
run_lane 1 >"$TGBIND_TEST_LOGS/cargo-test-lane1.log" 2>&1 &
lane1=$!
run_lane 2 >"$TGBIND_TEST_LOGS/cargo-test-lane2.log" 2>&1 &
lane2=$!
wait "$lane1" || lanes_ok=false
wait "$lane2" || lanes_ok=false
cargo test --workspace --doc --quiet >"$TGBIND_TEST_LOGS/cargo-test-doc.log" 2>&1 || lanes_ok=false
cat "$TGBIND_TEST_LOGS"/cargo-test-{lane1,lane2,doc}.log >"$TGBIND_TEST_LOGS/cargo-test.log"
cat "$TGBIND_TEST_LOGS/cargo-test.log"
echo "== slowest suites"
sed -n 's/^== suite time: //p' "$TGBIND_TEST_LOGS/cargo-test.log" | sort -rn | sed -n 1,10p
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
