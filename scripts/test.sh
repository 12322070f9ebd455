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

# The commit the binaries' `--version` shows, fixed for the test build: taken from git, it changes
# with every commit and rebuilds every target of both binaries' packages (about 100 s of a CI run).
export TGBIND_GIT_COMMIT=test-build
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
phase "cargo test: build (the test build, the walkthroughs' binaries, the image test's static binary)"
cargo test --workspace --no-run --quiet
# The walkthroughs run on the debug binaries; built here, their own `cargo build` has nothing to do.
cargo build --quiet -p terraform-provider-elbv2 -p tgbind-controller -p tgbind-testkit \
  --bin terraform-provider-elbv2 --bin tgbind-controller --bin elb-dataplane --bin traffic
# The image test builds a static binary; built here, its compile does not compete with tests.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --target x86_64-unknown-linux-gnu -p tgbind-controller
phase "chart package (Helm v4 library) and the same checks on the packaged chart"
bash scripts/package-chart.sh --out "$TGBIND_CACHE/dist/charts"
chart_version=$(sed -n 's/^version = "\(.*\)"/\1/p' controller/Cargo.toml | sed -n 1p)
"$TGBIND_VENV/bin/python" scripts/check-chart.py "$TGBIND_CACHE/dist/charts/tgbind-controller-$chart_version.tgz" | tail -n 1

phase "tests and walkthroughs: two workers share one queue, longest first"
# The jobs: every test executable of the build above ("suite<TAB>package/name<TAB>directory<TAB>
# path") and one for the three walkthroughs, one after the other as their load checks are timed:
# the quickstart; the cluster migration (two apiservers, two controllers, weights shifted in
# Terraform); its control run (health gate skipped: the same load check must see requests fail).
# Most jobs wait on apiservers, moto, Terraform and timers rather than compute, so two workers
# roughly halve the wall time on two cores. Jobs are
# ordered by the time each took in the previous run (kept in the cache; unknown ones count 60 s), so
# the long ones start first and the two workers end close together.
SUITE_TIMES="$TGBIND_CACHE/suite-times.tsv"
jobs_file="$TGBIND_TEST_LOGS/jobs.tsv"
cargo test --workspace --no-run --quiet --message-format=json | python3 -c '
import json, os, sys
times = {}
if os.path.exists(sys.argv[1]):
    for line in open(sys.argv[1]):
        name, _, seconds = line.rstrip("\n").partition("\t")
        times[name] = int(seconds)
jobs = [("walkthroughs", "walkthroughs")]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        d = os.path.dirname(m["manifest_path"])
        jobs.append(("suite", os.path.basename(d) + "/" + m["target"]["name"], d, m["executable"]))
jobs.sort(key=lambda job: -times.get(job[1], 60))
for job in jobs:
    print(*job, sep="\t")
' "$SUITE_TIMES" >"$jobs_file"
# --show-output: the figures tests print (storm, failover, fuzz, corpora) appear in the log. The
# fuzz bodies get a short smoke run here (coverage-guided: scripts/fuzz.sh).
export TGBIND_FUZZ_SECONDS=5
# run_job KIND NAME [DIR EXE]: one job; its output goes to the worker's log.
run_job() {
  case $1 in
    suite) (cd "$3" && "$4" --show-output) 2>&1 ;;
    walkthroughs)
      run_walkthrough quickstart &&
        run_walkthrough cluster-migration &&
        MIGRATION_CONTROL=1 run_walkthrough cluster-migration-control
      ;;
  esac
}
# run_walkthrough NAME: scripts/NAME.sh (the control run is cluster-migration.sh with
# MIGRATION_CONTROL=1) on the test build, logging to $TGBIND_CACHE/NAME.log.
run_walkthrough() {
  local log="$TGBIND_CACHE/$1.log" started=$SECONDS
  QUICKSTART_PROFILE=debug bash "scripts/${1%-control}.sh" >"$log" 2>&1 || {
    tail -n 80 "$log"
    echo "walkthrough $1 failed (full log: $log)"
    return 1
  }
  echo "walkthrough $1 passed in $((SECONDS - started))s"
}
# worker N: takes the next job off the queue until it is empty; fails if any of its jobs failed.
worker() {
  local ok=true n kind name dir exe started
  while :; do
    n=$(flock "$jobs_file.lock" bash -c 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) >"$1"; echo "$n"' _ "$jobs_file.next")
    IFS=$'\t' read -r kind name dir exe < <(sed -n "$((n + 1))p" "$jobs_file") || break
    started=$SECONDS
    echo "     Running $name ($kind${exe:+ $exe})"
    run_job "$kind" "$name" "$dir" "$exe" || ok=false
    echo "== suite time: $((SECONDS - started))s  $name"
  done
  $ok
}
rm -f "$jobs_file.next"
jobs_ok=true
worker 1 >"$TGBIND_TEST_LOGS/cargo-test-lane1.log" 2>&1 &
lane1=$!
worker 2 >"$TGBIND_TEST_LOGS/cargo-test-lane2.log" 2>&1 &
lane2=$!
wait "$lane1" || jobs_ok=false
wait "$lane2" || jobs_ok=false
cargo test --workspace --doc --quiet >"$TGBIND_TEST_LOGS/cargo-test-doc.log" 2>&1 || jobs_ok=false
cat "$TGBIND_TEST_LOGS"/cargo-test-{lane1,lane2,doc}.log >"$TGBIND_TEST_LOGS/cargo-test.log"
cat "$TGBIND_TEST_LOGS/cargo-test.log"
sed -n 's/^== suite time: \([0-9]*\)s  \(.*\)/\2\t\1/p' "$TGBIND_TEST_LOGS/cargo-test.log" >"$SUITE_TIMES"
echo "== slowest jobs"
sort -t$'\t' -k2 -rn "$SUITE_TIMES" | sed -n 1,10p
$jobs_ok || { echo "tests or walkthroughs failed (logs: $TGBIND_TEST_LOGS/cargo-test-*.log)"; exit 1; }
echo "== walkthroughs"
tail -n 12 "$TGBIND_CACHE/quickstart.log"
grep -E '^\s+\[|^load:|^answered by|failed requests|no moment|removed exactly|passed' "$TGBIND_CACHE/cluster-migration.log"
grep -E '^load:|^control:' "$TGBIND_CACHE/cluster-migration-control.log"
cp "$TGBIND_CACHE/quickstart.log" "$TGBIND_TEST_LOGS/quickstart-transcript.log"
cp "$TGBIND_CACHE/cluster-migration.log" "$TGBIND_TEST_LOGS/cluster-migration-transcript.log"
cp "$TGBIND_CACHE/cluster-migration-control.log" "$TGBIND_TEST_LOGS/cluster-migration-control-transcript.log"
phase "no credentials or tokens in the logs of the whole suite"
python3 scripts/scan-logs.py --self-test
python3 scripts/scan-logs.py "$TGBIND_TEST_LOGS"
phase ""
