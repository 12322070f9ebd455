#![no_main]
//! cargo-fuzz target (nightly): `cargo +nightly fuzz run plan fuzz/corpus/plan`.

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::plan(data));
