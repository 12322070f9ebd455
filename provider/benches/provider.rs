//! Provider overhead, measured in one run: start-to-handshake, GetProviderSchema, RSS, binary size,
//! and `terraform validate` against hashicorp/null 2.1.2 on a comparable configuration: each
//! provider's overhead is its validate time minus that of a configuration with no provider, and
//! ours is broken down into where its milliseconds go (process start, runtime, TLS identity,
//! handshake, schema). Run with `bash scripts/bench.sh` (release build). Budgets from the issues
//! are printed next to each figure.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// Wall time of `run`, p50 of `n` runs.
fn p50_of(n: usize, mut run: impl FnMut()) -> Duration {
    let times = (0..n)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    percentile(times, 0.5)
}

/// Wall time of `terraform validate` in `w`, with Terraform's trace log written to `trace` if given.
fn validate_time(terraform: &Path, w: &Path, trace: Option<&Path>) -> Duration {
    let mut command = Command::new(terraform);
    command
        .args(["validate", "-no-color"])
        .current_dir(w)
        .env("HOME", w.join("home"))
        .env("TF_CLI_CONFIG_FILE", w.join("cli.tfrc"))
        .env("CHECKPOINT_DISABLE", "1");
    if let Some(path) = trace {
        let _ = std::fs::remove_file(path);
        command.env("TF_LOG", "trace").env("TF_LOG_PATH", path);
    }
    let started = Instant::now();
    let out = command.output().unwrap();
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

    let terraforms = support::terraforms();

    // Where our start-up milliseconds go, each measured on its own.
    let exec_true = p50_of(RUNS, || {
        Command::new("true").status().unwrap();
    });
    let exec_ours = p50_of(RUNS, || {
        Command::new(BIN).arg("--version").stdout(Stdio::null()).status().unwrap();
    });
    // On a thread of its own: a runtime cannot be dropped inside this one.
    let runtime = std::thread::spawn(|| {
        p50_of(RUNS, || {
            drop(tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
        })
    })
    .join()
    .unwrap();
    let tls = p50_of(RUNS, || {
        terraform_provider_elbv2::plugin::tls::generate_server_identity().unwrap();
    });
    let schema_bytes = {
        let p = PluginProcess::start(BIN);
        let mut client = pb::provider_client::ProviderClient::new(p.channel().await);
        let schema = client.get_provider_schema(pb::get_provider_schema::Request {}).await.unwrap();
        prost::Message::encoded_len(schema.get_ref())
    };

    println!("terraform-provider-elbv2 overhead ({RUNS} process starts)");
    println!(
        "  start -> handshake      p50 {}  p95 {}   budget <= 20 ms: {}",
        ms(handshake_p50),
        ms(handshake_p95),
        verdict(handshake_p95 <= Duration::from_millis(20))
    );
    println!(
        "    of which: exec and exit (--version) {}  (/bin/true {}), tokio runtime {}, TLS identity (P-256 key + certificate) {}",
        ms(exec_ours),
        ms(exec_true),
        ms(runtime),
        ms(tls)
    );
    println!(
        "  GetProviderSchema       p50 {}  ({:.1} KiB encoded)",
        ms(schema_p50),
        schema_bytes as f64 / 1024.0
    );
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
    // The oldest and the newest Terraform: schema caching and plugin start-up differ between them.
    for terraform in [terraforms.first().unwrap(), terraforms.last().unwrap()] {
        validate_comparison(terraform);
    }
}

/// `terraform validate` of 10 resources of ours, of 10 null_resource and of a configuration with no
/// provider, alternated; each provider's overhead is its time minus the no-provider time. Then
/// where the milliseconds of each provider start go, from Terraform's own trace log.
fn validate_comparison(terraform: &support::Terraform) {
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
    let none_body = (0..10)
        .map(|i| format!("output \"o{i}\" {{\n  value = {{ n = \"{i}\" }}\n}}\n"))
        .collect::<String>();
    let ours_w = workdir("tgbind/elbv2", &ours_dir, &ours_body);
    let null_w = workdir("hashicorp/null", &null_dir, &null_body);
    let none_w = workdir("hashicorp/null", &null_dir, &none_body);
    // Warm all once (page cache), then alternate so drift in machine load hits all alike.
    for w in [&ours_w, &null_w, &none_w] {
        validate_time(&terraform.bin, w.path(), None);
    }
    let (mut ours, mut null, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        ours.push(validate_time(&terraform.bin, ours_w.path(), None));
        null.push(validate_time(&terraform.bin, null_w.path(), None));
        none.push(validate_time(&terraform.bin, none_w.path(), None));
    }
    let (ours_p50, null_p50, none_p50) = (percentile(ours, 0.5), percentile(null, 0.5), percentile(none, 0.5));
    let ours_overhead = ours_p50.saturating_sub(none_p50);
    let null_overhead = null_p50.saturating_sub(none_p50);
    let ratio = ours_overhead.as_secs_f64() / null_overhead.as_secs_f64();
    println!("terraform validate, Terraform {}", terraform.version);
    println!(
        "  p50  ours {}  hashicorp/null 2.1.2 {}  no provider {}",
        ms(ours_p50),
        ms(null_p50),
        ms(none_p50)
    );
    println!(
        "  overhead (minus no provider)  ours {}  null {}  ratio ours/null {ratio:.2}   budget <= 0.30: {}",
        ms(ours_overhead),
        ms(null_overhead),
        verdict(ratio <= 0.30)
    );
    let mut floor = 0.0;
    for (name, w) in [("ours", &ours_w), ("null", &null_w)] {
        let runs: Vec<Phases> = (0..5)
            .map(|_| {
                let log = w.path().join("trace.log");
                validate_time(&terraform.bin, w.path(), Some(&log));
                Phases::from_trace(&std::fs::read_to_string(&log).unwrap())
            })
            .collect();
        let p = Phases::median(&runs);
        println!(
            "  {name}: {} provider starts; per start: Terraform's mTLS key {:.1} ms, exec to handshake {:.1} ms, connect (TLS, gRPC) {:.1} ms, RPCs {:.1} ms, exit {:.1} ms",
            p.starts, p.client_key, p.exec, p.connect, p.rpcs, p.exit
        );
        if name == "ours" {
            floor = p.starts as f64 * p.client_key;
        }
    }
    // Terraform generates a client key for every provider start, whatever the provider: that part
    // of the overhead is the same for any provider, so no provider's ratio can go below it.
    println!(
        "  Terraform's own keys are {floor:.1} ms of every provider's overhead: the lowest ratio any provider can reach here is {:.2}",
        floor / (null_overhead.as_secs_f64() * 1000.0)
    );
}

/// Where the milliseconds of a validate's provider starts go, from `TF_LOG=trace` timestamps
/// (millisecond resolution, medians of per-start means over several runs).
#[derive(Default, Clone)]
struct Phases {
    starts: usize,
    /// go-plugin's client generating its AutoMTLS certificate (Terraform's side, every start).
    client_key: f64,
    /// Process start to the handshake line.
    exec: f64,
    /// Handshake line to the first provider RPC: dial, TLS handshake, go-plugin's streams.
    connect: f64,
    /// First RPC to Close.
    rpcs: f64,
    /// Close to the process's exit.
    exit: f64,
}

impl Phases {
    fn from_trace(log: &str) -> Phases {
        // "2026-12-03T06:35:53.876Z [DEBUG] provider: ..." -> milliseconds of the day.
        let stamp = |line: &str| -> Option<f64> {
            let time = line.split_whitespace().next()?.split('T').nth(1)?.trim_end_matches('Z');
            let mut hms = time.split(':');
            let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
            Some((h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?) * 1000.0)
        };
        let (mut p, mut open): (Phases, [Option<f64>; 5]) = (Phases::default(), [None; 5]);
        for line in log.lines() {
            let Some(t) = stamp(line) else { continue };
            if line.contains("provider: configuring client automatic mTLS") {
                open = [Some(t), None, None, None, None];
            } else if line.contains("provider: starting plugin:") {
                open[1] = Some(t);
            } else if line.contains("provider: using plugin:") {
                open[2] = Some(t);
            } else if line.contains("GRPCProvider") && line.contains(": Close") {
                open[4] = Some(t);
            } else if line.contains("GRPCProvider") && open[2].is_some() && open[3].is_none() {
                open[3] = Some(t);
            } else if line.contains("provider: plugin process exited") {
                if let [Some(a), Some(b), Some(c), Some(d), Some(e)] = open {
                    p.starts += 1;
                    p.client_key += b - a;
                    p.exec += c - b;
                    p.connect += d - c;
                    p.rpcs += e - d;
                    p.exit += t - e;
                }
                open = [None; 5];
            }
        }
        let n = p.starts.max(1) as f64;
        Phases {
            client_key: p.client_key / n,
            exec: p.exec / n,
            connect: p.connect / n,
            rpcs: p.rpcs / n,
            exit: p.exit / n,
            ..p
        }
    }

    fn median(runs: &[Phases]) -> Phases {
        let mid = |f: fn(&Phases) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Phases {
            starts: runs.iter().map(|p| p.starts).max().unwrap_or(0),
            client_key: mid(|p| p.client_key),
            exec: mid(|p| p.exec),
            connect: mid(|p| p.connect),
            rpcs: mid(|p| p.rpcs),
            exit: mid(|p| p.exit),
        }
    }
}
