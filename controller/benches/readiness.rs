//! Readiness-gate figures, measured in one run against a real kube-apiserver and the scripted ELB
//! model (moto reports targets healthy at once, so it cannot show the wait): 500 pods waiting on
//! their gate, their targets turning healthy at random moments over a minute. Prints the latency from
//! "target healthy in ELB" to "pod condition True" (budget p99 <= health recheck interval + 200 ms),
//! DescribeTargetHealth calls per minute during that rollout, and in the minute after it (budget:
//! none beyond the resync).
//! Run with `bash scripts/bench.sh`; TGBIND_BENCH_SMALL=1 uses 50 pods and 20 s windows.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use support::scripted::{start_in_process_with, ScriptedElb, ARN};
use support::{wait_for, Env, Spec, NS};
use tgbind_aws::HealthState;
use tgbind_controller::context::Settings;

const GATE: &str = "target-health.elbv2.k8s.aws/web";
const RECHECK: Duration = Duration::from_secs(5);

fn ip(i: usize) -> String {
    format!("10.70.{}.{}", i / 250, i % 250 + 1)
}

#[tokio::main]
async fn main() {
    let small = std::env::var_os("TGBIND_BENCH_SMALL").is_some();
    let (pods, window) = if small {
        (50, Duration::from_secs(20))
    } else {
        (500, Duration::from_secs(60))
    };
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    elb.set(ARN, &[]);
    env.service("web", &[("http", 80, 8080)]).await;
    stream::iter(0..pods)
        .for_each_concurrent(16, |i| {
            let env = &env;
            async move { env.pod(&format!("web-{i}"), &ip(i), Some(GATE), true, false).await }
        })
        .await;
    let names: Vec<String> = (0..pods).map(|i| format!("web-{i}")).collect();
    let ips: Vec<String> = (0..pods).map(ip).collect();
    // Slices of at most 100 endpoints, as the EndpointSlice controller writes them.
    for chunk in 0..pods.div_ceil(100) {
        let eps: Vec<(&str, &str, bool, bool)> = (chunk * 100..(chunk * 100 + 100).min(pods))
            .map(|i| (ips[i].as_str(), names[i].as_str(), false, false))
            .collect();
        env.slice_of_pods(&format!("web-{chunk}"), "web", 8080, &eps).await;
    }
    let settings = Settings {
        resync: Duration::from_secs(600),
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_secs(5),
        health_recheck: RECHECK,
    };
    start_in_process_with(&env, elb.clone(), settings).await;
    env.binding("web", Spec::ip("web", 80, ARN)).await;
    wait_for("all pods registered", Duration::from_secs(60), || async {
        elb.targets.lock().unwrap()[ARN].len() == pods
    })
    .await;

    // ELB: each target turns healthy at a random moment in the window; the moment is recorded.
    let flipped: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    let describes_before = elb.describes.load(Ordering::Relaxed);
    let mut order: Vec<usize> = (0..pods).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let flipper = {
        let (elb, flipped) = (elb.clone(), flipped.clone());
        tokio::spawn(async move {
            for (k, i) in order.into_iter().enumerate() {
                let at = started + window.mul_f64(k as f64 / pods as f64);
                tokio::time::sleep_until(at.into()).await;
                let id = ip(i);
                let mut all = elb.targets.lock().unwrap();
                if let Some(t) = all.get_mut(ARN).unwrap().iter_mut().find(|t| t.target.id == id) {
                    t.state = HealthState::Healthy;
                }
                flipped.lock().unwrap().insert(format!("web-{i}"), Instant::now());
            }
        })
    };
    // The pods' view: list them every 50 ms and note when each gate turns True.
    let api: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    let mut passed: HashMap<String, Instant> = HashMap::new();
    while passed.len() < pods && started.elapsed() < window + RECHECK * 4 {
        for pod in api.list(&ListParams::default()).await.unwrap().items {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let ok = pod
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == GATE && c.status == "True");
            if ok {
                passed.entry(name).or_insert_with(Instant::now);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flipper.await.unwrap();
    let rollout_minutes = started.elapsed().as_secs_f64() / 60.0;
    let describes_rollout = elb.describes.load(Ordering::Relaxed) - describes_before;

    let flipped = flipped.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = passed
        .iter()
        .filter_map(|(name, at)| Some(at.saturating_duration_since(*flipped.get(name)?)))
        .collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];

    // Steady state: everything healthy, nothing changes.
    let steady_before = elb.describes.load(Ordering::Relaxed);
    tokio::time::sleep(window).await;
    let steady = elb.describes.load(Ordering::Relaxed) - steady_before;

    let budget = RECHECK + Duration::from_millis(200);
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "readiness gates: {pods} pods waiting on their gate, targets turning healthy over {:.0} s (scripted ELB, real apiserver)",
        window.as_secs_f64()
    );
    println!(
        "  target healthy -> pod condition True ({} pods)  p50 {}  p99 {}  max {}   budget p99 <= recheck {} + 200 ms: {}",
        latencies.len(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(pct(1.0)),
        ms(RECHECK),
        if latencies.len() == pods && pct(0.99) <= budget {
            "within budget"
        } else {
            "OVER BUDGET"
        }
    );
    println!(
        "  DescribeTargetHealth during the rollout: {describes_rollout} calls = {:.1} per minute (one group, re-read every {} s while targets are not healthy)",
        describes_rollout as f64 / rollout_minutes,
        RECHECK.as_secs()
    );
    println!(
        "  DescribeTargetHealth in steady state: {steady} calls in {:.0} s   budget none beyond the resync: {}",
        window.as_secs_f64(),
        if steady == 0 { "within budget" } else { "OVER BUDGET" }
    );
    println!("  (pod conditions are sampled every 50 ms: latencies carry up to 50 ms of sampling error)");
}
