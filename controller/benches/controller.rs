//! Controller figures on the real apiserver + moto, measured in one run (release build):
//! EndpointSlice change -> target registered latency (p50/p99) at 100 bindings x 50 endpoints, AWS
//! calls per change, cold-start convergence at 1000 bindings x 20 endpoints, and controller RSS.
//! Run with `bash scripts/bench.sh`. Scale with TGBIND_BENCH_SMALL=1 for a quick look.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use support::{metric, wait_for, Controller, Env, Spec};

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn ip(binding: usize, endpoint: usize) -> String {
    format!("10.{}.{}.{}", 100 + binding / 250, binding % 250, endpoint + 1)
}

/// Creates `bindings` target groups, Services, slices of `endpoints` ready endpoints, and bindings.
async fn populate(env: &Env, prefix: &str, bindings: usize, endpoints: usize) -> Vec<String> {
    stream::iter(0..bindings)
        .map(|i| async move {
            let name = format!("{prefix}{i}");
            let arn = env.target_group(&name).await;
            env.service(&name, &[("http", 80, 8080)]).await;
            let eps: Vec<(String, bool)> = (0..endpoints).map(|e| (ip(i, e), true)).collect();
            let eps_ref: Vec<(&str, bool)> = eps.iter().map(|(a, r)| (a.as_str(), *r)).collect();
            env.slice(&format!("{name}-a"), &name, "http", 8080, &eps_ref).await;
            env.binding(&name, Spec::ip(&name, 80, &arn)).await;
            arn
        })
        .buffered(16)
        .collect()
        .await
}

async fn converged(env: &Env, want_bindings: usize, want_targets: i32) -> bool {
    let list = env.tgbs().list(&Default::default()).await.unwrap();
    list.items
        .iter()
        .filter(|b| {
            b.status.as_ref().and_then(|s| s.registered_targets) == Some(want_targets)
                && b.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.status == "True"))
        })
        .count()
        >= want_bindings
}

#[tokio::main]
async fn main() {
    let small = std::env::var_os("TGBIND_BENCH_SMALL").is_some();
    let (lat_bindings, lat_endpoints, changes) = if small { (10, 10, 20) } else { (100, 50, 100) };
    let (cold_bindings, cold_endpoints) = if small { (50, 20) } else { (1000, 20) };

    // --- Latency and AWS calls per change.
    let env = Env::start().await;
    let arns = populate(&env, "lat", lat_bindings, lat_endpoints).await;
    let c = Controller::start(&env, "bench", &[("LOG_LEVEL", "warn")]);
    wait_for("latency set-up converged", Duration::from_secs(300), || {
        converged(&env, lat_bindings, lat_endpoints as i32)
    })
    .await;
    let before = c.metrics();
    let mut latencies = Vec::new();
    for n in 0..changes {
        let i = n % lat_bindings;
        let name = format!("lat{i}");
        // Add one endpoint to binding i (a pod became ready).
        let mut eps: Vec<(String, bool)> = (0..lat_endpoints).map(|e| (ip(i, e), true)).collect();
        let new_ip = format!("10.250.{}.{}", n / 250, n % 250 + 1);
        eps.push((new_ip.clone(), true));
        let eps_ref: Vec<(&str, bool)> = eps.iter().map(|(a, r)| (a.as_str(), *r)).collect();
        let started = Instant::now();
        env.slice(&format!("{name}-a"), &name, "http", 8080, &eps_ref).await;
        let want = format!("{new_ip}:8080");
        loop {
            if env.targets(&arns[i]).await.contains(&want) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "change {n} never registered");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(started.elapsed());
        // Put the slice back so the next change on this binding starts from the same set.
        let base: Vec<(String, bool)> = (0..lat_endpoints).map(|e| (ip(i, e), true)).collect();
        let base_ref: Vec<(&str, bool)> = base.iter().map(|(a, r)| (a.as_str(), *r)).collect();
        env.slice(&format!("{name}-a"), &name, "http", 8080, &base_ref).await;
        wait_for("restored", Duration::from_secs(30), || async {
            !env.targets(&arns[i]).await.contains(&want)
        })
        .await;
    }
    let after = c.metrics();
    let (rss_lat, _) = rss_kib(c.child.id());
    drop(c);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let calls = |op: &str| {
        (metric(&after, &format!("tgbind_aws_api_calls_total{{operation=\"{op}\""))
            - metric(&before, &format!("tgbind_aws_api_calls_total{{operation=\"{op}\"")))
            / (2 * changes) as f64
    };
    drop(env);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };
    println!(
        "tgbind-controller on kube-apiserver 1.20 + moto ({} scale)",
        if small { "small" } else { "full" }
    );
    println!("  change -> registered ({lat_bindings} bindings x {lat_endpoints} endpoints, {changes} changes)  p50 {}  p99 {}   budget p99 <= 250 ms: {}", ms(pct(0.5)), ms(pct(0.99)), verdict(pct(0.99) <= Duration::from_millis(250)));
    println!("  AWS calls per endpoint change: RegisterTargets {:.2}  DeregisterTargets {:.2}  DescribeTargetHealth {:.2}   budget one write per change: {}", calls("RegisterTargets") * 2.0, calls("DeregisterTargets") * 2.0, calls("DescribeTargetHealth"), verdict(calls("RegisterTargets") * 2.0 <= 1.0 && calls("DeregisterTargets") * 2.0 <= 1.0));
    println!("  RSS at {lat_bindings} x {lat_endpoints}: {:.1} MiB", rss_lat as f64 / 1024.0);

    // --- Cold start: everything exists before the controller starts.
    let env = Env::start().await;
    let populate_started = Instant::now();
    populate(&env, "cold", cold_bindings, cold_endpoints).await;
    let populate_took = populate_started.elapsed();
    let started = Instant::now();
    // Without an API budget (ELBV2_RATE=0): this line measures the controller's own pace; the
    // `scale` bench measures starts under a budget.
    let c = Controller::start(&env, "bench-cold", &[("LOG_LEVEL", "warn"), ("ELBV2_RATE", "0")]);
    wait_for("cold start converged", Duration::from_secs(600), || {
        converged(&env, cold_bindings, cold_endpoints as i32)
    })
    .await;
    let cold = started.elapsed();
    let (rss_cold, hwm_cold) = rss_kib(c.child.id());
    let m = c.metrics();
    let register_calls = metric(&m, "tgbind_aws_api_calls_total{operation=\"RegisterTargets\"");
    drop(c);

    println!("  cold start without an API budget ({cold_bindings} bindings x {cold_endpoints} endpoints; objects created in {:.1} s): converged in {:.1} s   budget <= 30 s: {}", populate_took.as_secs_f64(), cold.as_secs_f64(), verdict(cold <= Duration::from_secs(30)));
    println!("  RegisterTargets calls at cold start: {register_calls} for {cold_bindings} groups");
    println!(
        "  RSS at {cold_bindings} x {cold_endpoints}: {:.1} MiB (peak {:.1} MiB)   budget <= 64 MiB: {}",
        rss_cold as f64 / 1024.0,
        hwm_cold as f64 / 1024.0,
        verdict(hwm_cold <= 64 * 1024)
    );
}
