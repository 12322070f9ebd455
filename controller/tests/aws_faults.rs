//! AWS faults through the fault proxy in front of moto: a throttling storm (50% of requests, for
//! 60 s) during a rollout of 500 endpoints. The controller converges within the backoff cap + 10 s
//! after the storm, never deregisters a target that is still wanted, and its metrics show the
//! throttles its SDK retries absorbed.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{metric, wait_for, Controller, Env, Spec};
use tgbind_testkit::faults::{FaultProxy, Faults};

const SLICES: usize = 5;
const PER_SLICE: usize = 100;
const STORM: Duration = Duration::from_secs(60);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

fn ip(generation: usize, slice: usize, i: usize) -> String {
    format!("10.{}.{}.{}", 100 + generation, slice, i)
}

/// Targets (ip:8080) whose deregistration moto received.
fn deregistered(proxy: &FaultProxy) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for body in proxy.forwarded_bodies().iter().filter(|b| b.contains("Action=DeregisterTargets")) {
        for pair in body.split('&') {
            if let Some((key, value)) = pair.split_once('=') {
                if key.starts_with("Targets.member.") && key.ends_with(".Id") {
                    out.insert(format!("{value}:8080"));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn throttling_storm_during_a_500_endpoint_rollout() {
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    let arn = env.target_group("storm").await;
    env.service("web", &[("http", 80, 8080)]).await;
    // Generation per endpoint: the rollout moves endpoints to new IPs a batch at a time.
    let mut generation = vec![vec![0usize; PER_SLICE]; SLICES];
    let write_slice = |s: usize, generation: &Vec<Vec<usize>>| {
        let ips: Vec<String> = (0..PER_SLICE).map(|i| ip(generation[s][i], s, i)).collect();
        let env = &env;
        async move {
            let endpoints: Vec<(&str, bool)> = ips.iter().map(|ip| (ip.as_str(), true)).collect();
            env.slice(&format!("web-{s}"), "web", "http", 8080, &endpoints).await;
        }
    };
    for s in 0..SLICES {
        write_slice(s, &generation).await;
    }
    let desired = |generation: &Vec<Vec<usize>>| -> BTreeSet<String> {
        (0..SLICES)
            .flat_map(|s| (0..PER_SLICE).map(move |i| (s, i)))
            .map(|(s, i)| format!("{}:8080", ip(generation[s][i], s, i)))
            .collect()
    };
    let controller = Controller::start(
        &env,
        "storm",
        &[
            ("AWS_ENDPOINT_URL", &proxy.endpoint()),
            ("BACKOFF_CAP", "2s"),
            ("BACKOFF_BASE", "200ms"),
        ],
    );
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    let first = desired(&generation);
    wait_for("500 targets registered", Duration::from_secs(60), || async {
        env.targets(&arn).await == first
    })
    .await;

    // The storm, with a rollout in it: every 3 s, 40 endpoints move to new IPs.
    proxy.set(Faults {
        throttle: 0.5,
        ..Default::default()
    });
    let mut removed: BTreeSet<String> = BTreeSet::new();
    let storm_started = Instant::now();
    let mut round = 0;
    while storm_started.elapsed() < STORM {
        tokio::time::sleep(Duration::from_secs(3)).await;
        round += 1;
        let s = round % SLICES;
        for k in 0..40 {
            let i = (round * 40 + k) % PER_SLICE;
            removed.insert(format!("{}:8080", ip(generation[s][i], s, i)));
            generation[s][i] = round;
        }
        write_slice(s, &generation).await;
    }
    proxy.set(Faults::default());
    let calm = Instant::now();
    let last = desired(&generation);
    wait_for("converged after the storm", BACKOFF_CAP + Duration::from_secs(10), || async {
        env.targets(&arn).await == last
    })
    .await;
    let converged_in = calm.elapsed();

    // Only targets the rollout removed were ever deregistered.
    let spurious: Vec<String> = deregistered(&proxy).difference(&removed).cloned().collect();
    assert!(spurious.is_empty(), "deregistered while still wanted: {spurious:?}");
    let throttled = proxy.counts().throttled.load(std::sync::atomic::Ordering::Relaxed);
    let metrics = controller.metrics();
    let seen: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("tgbind_aws_failed_attempts_total{code=\"Throttling") && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    // About half of the storm's requests (a few per rollout round): enough to know it hit.
    assert!(throttled >= 8, "the storm throttled only {throttled} requests");
    assert!(seen > 0, "metrics show no throttles:\n{metrics}");
    eprintln!(
        "storm: {throttled} requests throttled over {round} rollout rounds, {} removed targets; converged {:.1} s after the storm; metrics saw {seen} throttled attempts",
        removed.len(),
        converged_in.as_secs_f64()
    );
}

/// A restart under throttling, with the production retry settings (backoff 1 s to 5 min): half of
/// all AWS requests are throttled while endpoints churn; the controller is killed (SIGKILL) in the
/// middle and the churn goes on while it is down. The restarted controller must have every group
/// exactly right within 60 s of its start, and nothing still wanted may ever be deregistered. The
/// API budget keeps throttled reconciles coming back soon instead of falling into long backoffs.
#[tokio::test]
async fn restart_under_50_percent_throttling_converges_within_60_s() {
    const SERVICES: usize = 11;
    const PER_SERVICE: usize = 2;
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    let mut arns = Vec::new();
    for s in 0..SERVICES {
        arns.push(env.target_group(&format!("churn-{s}")).await);
        env.service(&format!("svc-{s}"), &[("http", 80, 8080)]).await;
    }
    // (service, endpoint) -> generation; an endpoint's IP changes with its generation.
    let mut generation = vec![vec![0usize; PER_SERVICE]; SERVICES];
    let address = |s: usize, i: usize, g: usize| format!("10.{}.{}.{}", 200 + s, g % 250, i + 1);
    let write = |s: usize, generation: &Vec<Vec<usize>>| {
        let ips: Vec<String> = (0..PER_SERVICE).map(|i| address(s, i, generation[s][i])).collect();
        let env = &env;
        async move {
            let endpoints: Vec<(&str, bool)> = ips.iter().map(|ip| (ip.as_str(), true)).collect();
            env.slice(&format!("svc-{s}-a"), &format!("svc-{s}"), "http", 8080, &endpoints)
                .await;
        }
    };
    for s in 0..SERVICES {
        write(s, &generation).await;
    }
    let production_retries = [
        ("AWS_ENDPOINT_URL", proxy.endpoint()),
        ("BACKOFF_BASE", "1s".to_string()),
        ("BACKOFF_CAP", "5m".to_string()),
    ];
    let extra: Vec<(&str, &str)> = production_retries.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = Controller::start(&env, "before-restart", &extra);
    for (s, arn) in arns.iter().enumerate() {
        env.binding(&format!("b-{s}"), Spec::ip(&format!("svc-{s}"), 80, arn)).await;
    }
    proxy.set(Faults {
        throttle: 0.5,
        ..Default::default()
    });
    // Churn: an endpoint moves every 250 ms; the controller dies after 3 s, the churn goes on 2 s.
    let mut removed: BTreeSet<String> = BTreeSet::new();
    for round in 1..=20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (s, i) = (round % SERVICES, round % PER_SERVICE);
        removed.insert(format!("{}:8080", address(s, i, generation[s][i])));
        generation[s][i] = round;
        write(s, &generation).await;
        if round == 12 {
            first.kill();
        }
    }
    let restarted = Instant::now();
    let second = Controller::start(&env, "after-restart", &extra);
    let wanted: Vec<BTreeSet<String>> = (0..SERVICES)
        .map(|s| {
            (0..PER_SERVICE)
                .map(|i| format!("{}:8080", address(s, i, generation[s][i])))
                .collect()
        })
        .collect();
    let mut right = 0;
    let deadline = restarted + Duration::from_secs(60);
    while Instant::now() < deadline {
        right = 0;
        for (arn, wanted) in arns.iter().zip(&wanted) {
            if &env.targets(arn).await == wanted {
                right += 1;
            }
        }
        if right == SERVICES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = restarted.elapsed();
    let metrics = second.metrics();
    assert_eq!(
        right, SERVICES,
        "{right} of {SERVICES} groups right 60 s after the restart under 50% throttling\n{metrics}"
    );
    let spurious: Vec<String> = deregistered(&proxy).difference(&removed).cloned().collect();
    assert!(spurious.is_empty(), "deregistered while still wanted: {spurious:?}");
    let throttled = proxy.counts().throttled.load(std::sync::atomic::Ordering::Relaxed);
    let budget_rate = metrics
        .lines()
        .find(|l| l.starts_with("tgbind_aws_budget_rate{family=\"elbv2\"}"))
        .unwrap_or("no budget rate")
        .to_string();
    eprintln!(
        "restart under 50% throttling: {SERVICES} groups right {:.1} s after the restart; {throttled} requests throttled; {budget_rate}",
        took.as_secs_f64()
    );
}

/// Verifications that want far more than the API budget (24 bindings resynced every second at 2
/// requests/s) must not keep an event-driven change from a worker: verifying reconciles waiting for
/// the budget would otherwise hold every worker, and the change would queue behind a backlog of
/// due verifications that only grows.
#[tokio::test]
async fn a_change_finds_a_free_worker_while_verifications_want_more_than_the_budget() {
    const BINDINGS: usize = 24;
    let env = Env::start().await;
    let ip = |b: usize, e: usize| format!("10.60.{b}.{e}");
    let mut arns = Vec::new();
    for b in 0..BINDINGS {
        arns.push(env.bound_service(&format!("busy{b}"), &[(&ip(b, 1), true)]).await);
    }
    let settled = || async { env.settled_records().await == BINDINGS };
    {
        let _first = Controller::start(&env, "busy-first", &[]);
        wait_for("every binding records a settled sync", Duration::from_secs(60), settled).await;
    }
    let busy = Controller::start(
        &env,
        "busy",
        &[("ELBV2_RATE", "2"), ("ELBV2_BURST", "1"), ("RESYNC", "1s"), ("WORKERS", "8")],
    );
    // Long enough for the verifications to fill the budget and build a backlog.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let started = Instant::now();
    let changed = 7;
    let endpoints = [ip(changed, 1), ip(changed, 2)];
    env.slice(
        &format!("busy{changed}-a"),
        &format!("busy{changed}"),
        "http",
        8080,
        &[(&endpoints[0], true), (&endpoints[1], true)],
    )
    .await;
    let want: Vec<String> = endpoints.iter().map(|e| format!("{e}:8080")).collect();
    env.wait_for_targets(
        "the change registered while verifications want 12 times the budget",
        Duration::from_secs(10),
        &arns[changed],
        &[&want[0], &want[1]],
    )
    .await;
    let m = busy.metrics();
    println!(
        "change registered {:?} after the event; {} verifications put back",
        started.elapsed(),
        metric(&m, "tgbind_verifications_deferred_total")
    );
    assert!(metric(&m, "tgbind_verifications_deferred_total") > 0.0, "{m}");
}
