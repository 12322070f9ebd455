//! Provider overhead, measured in one run: start-to-handshake, GetProviderSchema, RSS, binary size,
//! and `terraform validate` wall time against hashicorp/null 2.1.2 on a comparable configuration.
//! Run with `bash scripts/bench.sh` (release build). Budgets from the provider-core issue are
//! printed next to each figure.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::plugin_client::PluginProcess;
use terraform_provider_elbv2::proto::tfplugin6 as pb;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");
const RUNS: usize = 20;

fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "within budget"
    } else {
        "OVER BUDGET"
    }
}

/// A Terraform working directory whose CLI config points `source` at `dir`.
fn workdir(source: &str, dir: &Path, body: &str) -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(w.path().join("home")).unwrap();
    std::fs::write(
        w.path().join("cli.tfrc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{source}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(w.path().join("main.tf"), body).unwrap();
    w
}

fn validate_time(terraform: &Path, w: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(terraform)
        .args(["validate", "-no-color"])
        .current_dir(w)
        .env("HOME", w.join("home"))
        .env("TF_CLI_CONFIG_FILE", w.join("cli.tfrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "validate failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

#[tokio::main]
async fn main() {
    let size = std::fs::metadata(BIN).unwrap().len();

    let mut handshakes = Vec::new();
    let mut schema_times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let p = PluginProcess::start(BIN);
        handshakes.push(p.handshake);
        let mut client = pb::provider_client::ProviderClient::new(p.channel().await);
        let started = Instant::now();
        client.get_provider_schema(pb::get_provider_schema::Request {}).await.unwrap();
        schema_times.push(started.elapsed());
        rss.push(p.rss_kib());
    }
    let handshake_p50 = percentile(handshakes.clone(), 0.5);
    let handshake_p95 = percentile(handshakes, 0.95);
    let schema_p50 = percentile(schema_times, 0.5);
    let rss_max = *rss.iter().max().unwrap();

    // terraform validate: 10 resources of ours vs 10 null_resource, same Terraform, same machine.
    let terraform = support::terraforms().remove(0);
    let ours_dir = Path::new(BIN).parent().unwrap().to_path_buf();
    let null_dir: PathBuf = support::venv().join("lib");
    assert!(
        null_dir.join("terraform-provider-null_v2.1.2_x4").exists(),
        "hashicorp/null 2.1.2 missing: run scripts/setup.sh"
    );
    let ours_body = format!(
        "terraform {{\n  required_providers {{\n    elbv2 = {{ source = \"tgbind/elbv2\" }}\n  }}\n}}\nprovider \"elbv2\" {{\n  region = \"us-east-1\"\n}}\n{}",
        (0..10).map(|i| format!("resource \"elbv2_target_group\" \"t{i}\" {{\n  port = 80\n  protocol = \"HTTP\"\n  vpc_id = \"vpc-1\"\n  tags = {{ n = \"{i}\" }}\n}}\n")).collect::<String>()
    );
    let null_body = format!(
        "terraform {{\n  required_providers {{\n    null = {{ source = \"hashicorp/null\" }}\n  }}\n}}\n{}",
        (0..10)
            .map(|i| format!("resource \"null_resource\" \"n{i}\" {{\n  triggers = {{ n = \"{i}\" }}\n}}\n"))
            .collect::<String>()
    );
    let ours_w = workdir("tgbind/elbv2", &ours_dir, &ours_body);
    let null_w = workdir("hashicorp/null", &null_dir, &null_body);
    // Warm both once (page cache), then alternate so drift in machine load hits both alike.
    validate_time(&terraform.bin, ours_w.path());
    validate_time(&terraform.bin, null_w.path());
    let (mut ours, mut null) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        ours.push(validate_time(&terraform.bin, ours_w.path()));
        null.push(validate_time(&terraform.bin, null_w.path()));
    }
    let ours_p50 = percentile(ours, 0.5);
    let null_p50 = percentile(null, 0.5);
    let ratio = ours_p50.as_secs_f64() / null_p50.as_secs_f64();

    println!(
        "terraform-provider-elbv2 overhead ({RUNS} process starts; Terraform {})",
        terraform.version
    );
    println!(
        "  start -> handshake      p50 {}  p95 {}   budget <= 20 ms: {}",
        ms(handshake_p50),
        ms(handshake_p95),
        verdict(handshake_p95 <= Duration::from_millis(20))
    );
    println!("  GetProviderSchema       p50 {}", ms(schema_p50));
    println!(
        "  RSS after schema        max {:.1} MiB   budget <= 30 MiB: {}",
        rss_max as f64 / 1024.0,
        verdict(rss_max <= 30 * 1024)
    );
    println!(
        "  release binary          {:.1} MB   budget <= 25 MB: {}",
        size as f64 / 1e6,
        verdict(size <= 25_000_000)
    );
    println!(
        "  terraform validate      ours p50 {}  hashicorp/null 2.1.2 p50 {}",
        ms(ours_p50),
        ms(null_p50)
    );
    println!("  validate ratio ours/null {ratio:.2}   budget <= 1.0: {}", verdict(ratio <= 1.0));
}
