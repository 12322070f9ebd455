#!/usr/bin/env bash
# RUSTC_WRAPPER for scripts/fuzz.sh: adds SanitizerCoverage (libFuzzer's coverage feedback, stable
# codegen flags) to the project's own crates only. Dependencies build as usual: instrumenting the AWS
# SDKs would multiply the build time for coverage of code the targets never reach.
rustc=$1
shift
case " $* " in
  *" --crate-name tgbind_"* | *" --crate-name terraform_provider_elbv2 "* | *" --crate-name dynamic_value "* | \
    *" --crate-name plan "* | *" --crate-name crd "*)
    exec "$rustc" "$@" --cfg fuzzing -Cdebug-assertions -Cpasses=sancov-module \
      -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
      -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares ;;
  *) exec "$rustc" "$@" ;;
esac
