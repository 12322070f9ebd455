//! A bounded smoke run of the fuzz target bodies (`fuzz/targets.rs`) inside the test suite: random
//! mutations of the seed corpus (`fuzz/corpus/<target>/`, plus seeds built here from real values)
//! for `TGBIND_FUZZ_SECONDS` per target (default 20). No coverage guidance: the coverage-guided run
//! is `scripts/fuzz.sh` (libFuzzer, a command of its own). Any panic fails the test and the
//! input is saved under the cargo target directory.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use terraform_provider_elbv2::framework::ProviderDefinition;
use terraform_provider_elbv2::provider::Elbv2Provider;
use terraform_provider_elbv2::tfvalue::{decode_json, encode_msgpack};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of a seed: bit flips, byte changes, cuts, duplications, splices, or random bytes.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = [0, 0xff, 0x7f, 0x80, 0xc0, 0xdc, 0xde, b'"', b'{', b'['][rng.below(10)];
            }
            2 if len > 1 => data.truncate(rng.below(len)),
            3 if len > 0 => {
                let (a, b) = (rng.below(len), rng.below(len));
                let (a, b) = (a.min(b), a.max(b));
                let chunk = data[a..b].to_vec();
                let at = rng.below(len);
                data.splice(at..at, chunk);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(data.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[rng.below(other.len() + 1)..]);
            }
            5 => data = (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            _ if len > 0 => {
                let i = rng.below(len);
                data.insert(i, rng.next() as u8);
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data
}

fn corpus_seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect())
        .unwrap_or_default()
}

/// msgpack seeds for `plan`: real configurations of each resource, as Terraform would send them.
fn plan_seeds() -> Vec<Vec<u8>> {
    let provider = Elbv2Provider::new();
    let configs = [
        r#"{"name":"app","port":8080,"protocol":"HTTP","vpc_id":"vpc-1","target_type":"ip","health_check":[{"path":"/","interval":10,"timeout":5}],"stickiness":[{"type":"lb_cookie","enabled":true}]}"#,
        r#"{"subnets":["a","b"],"load_balancer_type":"network","idle_timeout":30,"subnet_mapping":[{"subnet_id":"a"}]}"#,
        r#"{"load_balancer_arn":"arn:lb","port":443,"protocol":"HTTPS","default_action":[{"type":"forward","forward":[{"target_group":[{"arn":"a","weight":10},{"arn":"a","weight":1000}],"stickiness":[{"enabled":true}]}]}]}"#,
        r#"{"listener_arn":"arn:l","priority":5,"action":[{"type":"redirect","redirect":[{"status_code":"HTTP_301"}]}],"condition":[{"path_pattern":[{"values":["/"]}],"host_header":[{"values":["a"]}]}]}"#,
    ];
    let mut seeds = Vec::new();
    for (i, r) in provider.resources().iter().enumerate() {
        let ty = r.schema().value_type();
        for json in configs {
            if let Ok(v) = decode_json(json.as_bytes(), &ty) {
                let config = encode_msgpack(&v, &ty);
                let mut seed = vec![i as u8, 0];
                seed.extend_from_slice(&config);
                seeds.push(seed.clone());
                // With the same value as prior state too (the split byte halves the rest).
                let mut both = vec![i as u8, 128];
                both.extend_from_slice(&config);
                both.extend_from_slice(&config);
                seeds.push(both);
            }
        }
    }
    assert!(!seeds.is_empty());
    seeds
}

fn run(target: &str, body: fn(&[u8]), mut seeds: Vec<Vec<u8>>) {
    seeds.extend(corpus_seeds(target));
    seeds.push(Vec::new());
    let seconds: u64 = std::env::var("TGBIND_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64);
    let mut runs = 0u64;
    for seed in seeds.clone() {
        body(&seed);
    }
    while Instant::now() < deadline {
        let input = mutate(&mut rng, &seeds);
        let result = std::panic::catch_unwind(|| body(&input));
        if result.is_err() {
            let out =
                PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join(format!("fuzz-crash-{target}"));
            let _ = std::fs::write(&out, &input);
            panic!("{target}: input {} panicked (saved to {}): {input:02x?}", runs, out.display());
        }
        runs += 1;
    }
    println!("fuzz {target}: {runs} inputs in {seconds} s, no panic");
    assert!(runs > 100, "{target}: only {runs} inputs ran");
}

/// Writes the `plan` seeds into `fuzz/corpus/plan/` for the libFuzzer run (`scripts/fuzz.sh`):
/// `cargo test -p tgbind-testkit --test fuzz_bounded -- --ignored write_plan_seeds`.
#[test]
#[ignore = "a tool: regenerates committed seed files"]
fn write_plan_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/plan");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in plan_seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("config-{i:02}.msgpack")), seed).unwrap();
    }
}

#[test]
fn dynamic_value_decoders_never_panic() {
    run("dynamic_value", targets::dynamic_value, Vec::new());
}

#[test]
fn validation_and_planning_never_panic() {
    run("plan", targets::plan, plan_seeds());
}

#[test]
fn crd_and_slice_decoding_never_panics() {
    run("crd", targets::crd, Vec::new());
}
