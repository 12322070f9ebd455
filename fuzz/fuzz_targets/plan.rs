#![no_main]
//! libFuzzer target: `bash scripts/fuzz.sh` (stable), or `cargo +nightly fuzz run plan fuzz/corpus/plan`.

#[allow(dead_code)] // each target uses one of the shared bodies
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::plan(data));
