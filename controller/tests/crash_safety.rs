//! Crash safety: the controller is killed with SIGKILL at random points (12 times) during a rollout
//! of a multi-cluster binding. After each restart the group converges to the desired targets, and
//! targets another cluster registered in the same group are never touched. And a restart trusts
//! what bindings recorded as settled: only bindings changed while the controller was down are read
//! from AWS at start; the others are verified by their spread resync, which repairs drift.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{metric, wait_for, Controller, Env, Spec};
use tgbind_aws::elbv2::types::TargetDescription;

const KILLS: usize = 12;

fn ips(generation: usize) -> Vec<String> {
    (0..30).map(|i| format!("10.{}.0.{i}", 50 + generation % 2 * 10 + i % 3)).collect()
}

#[tokio::test]
async fn kill_9_at_random_points_converges_and_never_touches_another_clusters_targets() {
    let env = Env::start().await;
    let arn = env.target_group("crash").await;
    let foreign: BTreeSet<String> = ["10.99.0.1", "10.99.0.2"].iter().map(|ip| format!("{ip}:8080")).collect();
    env.elb
        .register_targets()
        .target_group_arn(&arn)
        .targets(TargetDescription::builder().id("10.99.0.1").port(8080).build())
        .targets(TargetDescription::builder().id("10.99.0.2").port(8080).build())
        .send()
        .await
        .unwrap();
    env.service("web", &[("http", 80, 8080)]).await;
    let write = |generation: usize| {
        let env = &env;
        async move {
            let list = ips(generation);
            let endpoints: Vec<(&str, bool)> = list.iter().map(|ip| (ip.as_str(), true)).collect();
            env.slice("web-a", "web", "http", 8080, &endpoints).await;
        }
    };
    write(0).await;
    env.binding("web", Spec::ip("web", 80, &arn).with("multiClusterTargetGroup", true))
        .await;

    // Watcher: the other cluster's targets must be in the group at every poll.
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (elb, arn, foreign, stop, violations) = (env.elb.clone(), arn.clone(), foreign.clone(), stop.clone(), violations.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let now = support::registered(&elb, &arn).await;
                if !foreign.is_subset(&now) {
                    violations.lock().unwrap().push(format!("{now:?}"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let mut generation = 0;
    for kill in 0..KILLS {
        let mut controller = env.controller(&format!("crash-{kill}"));
        // A change while it runs, then SIGKILL somewhere between 0 and 1.5 s later: before,
        // during or after its writes.
        generation += 1;
        write(generation).await;
        let pause = rand_millis(kill) % 1500;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        controller.kill();
        // And a change while it is down.
        generation += 1;
        write(generation).await;
        // The next controller (or the final one) must converge from whatever was left.
        if kill % 4 == 3 {
            let _c = env.controller(&format!("check-{kill}"));
            let expected: BTreeSet<String> = ips(generation)
                .iter()
                .map(|ip| format!("{ip}:8080"))
                .chain(foreign.clone())
                .collect();
            wait_for("converged after a crash", Duration::from_secs(20), || async {
                env.targets(&arn).await == expected
            })
            .await;
        }
    }
    let _final = env.controller("final");
    let expected: BTreeSet<String> = ips(generation)
        .iter()
        .map(|ip| format!("{ip}:8080"))
        .chain(foreign.clone())
        .collect();
    wait_for("converged at the end", Duration::from_secs(20), || async {
        env.targets(&arn).await == expected
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let violations = violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "another cluster's targets left the group: {violations:?}");
}

/// A different pause per round, spread over the range (no RNG crate needed for this).
fn rand_millis(round: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    nanos / 1000 + round as u64 * 389
}

#[tokio::test]
async fn a_restart_reads_only_bindings_changed_while_down_and_resync_verifies_the_rest() {
    // Enough bindings for a first start to list the account's groups instead of describing each.
    const BINDINGS: usize = 20;
    let env = Env::start().await;
    let ip = |b: usize, e: usize| format!("10.30.{b}.{e}");
    let mut arns = Vec::new();
    for b in 0..BINDINGS {
        let eps = [ip(b, 1), ip(b, 2)];
        arns.push(env.bound_service(&format!("trust{b}"), &[(&eps[0], true), (&eps[1], true)]).await);
    }
    let settled = || async { env.settled_records().await == BINDINGS };
    {
        let first = Controller::start(&env, "trust-first", &[]);
        wait_for("every binding records a settled sync", Duration::from_secs(60), settled).await;
        let m = first.metrics();
        let described = metric(&m, "tgbind_aws_api_calls_total{operation=\"DescribeTargetGroups\"");
        assert_eq!(described, 1.0, "one listing of the account's groups, not one call per binding: {m}");
    }

    // While the controller is down: two bindings gain an endpoint.
    for b in [1, 4] {
        let name = format!("trust{b}");
        let eps = [ip(b, 1), ip(b, 2), ip(b, 3)];
        let eps: Vec<(&str, bool)> = eps.iter().map(|e| (e.as_str(), true)).collect();
        env.slice(&format!("{name}-a"), &name, "http", 8080, &eps).await;
    }
    // A resync far away: within this test, only changed bindings may reach AWS.
    let second = Controller::start(&env, "trust-second", &[("RESYNC", "100h")]);
    for b in [1, 4] {
        let want: Vec<String> = (1..=3).map(|e| format!("{}:8080", ip(b, e))).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        env.wait_for_targets("a change made while down", Duration::from_secs(30), &arns[b], &want)
            .await;
    }
    wait_for("the changed bindings settle again", Duration::from_secs(30), settled).await;
    let m = second.metrics();
    let trusted = metric(&m, "tgbind_bindings_trusted_at_start_total");
    let reads = metric(&m, "tgbind_aws_api_calls_total{operation=\"DescribeTargetHealth\"");
    assert_eq!(trusted, (BINDINGS - 2) as f64, "{m}");
    // Each changed group is read by its sync and once more by its health recheck (moto reports a
    // registered target healthy); the unchanged groups are not read at all.
    assert_eq!(reads, 4.0, "only the two changed groups are read at start: {m}");
    let described = metric(&m, "tgbind_aws_api_calls_total{operation=\"DescribeTargetGroups\"");
    assert_eq!(described, 0.0, "the bindings' records know their groups: {m}");
    drop(second);

    // Drift while down in a binding that is trusted at start: its spread resync (within 3 s here)
    // still finds and repairs it.
    let target = |id: &str| tgbind_aws::elbv2::types::TargetDescription::builder().id(id).port(8080).build();
    env.elb
        .deregister_targets()
        .target_group_arn(&arns[2])
        .targets(target(&ip(2, 1)))
        .send()
        .await
        .unwrap();
    let third = Controller::start(&env, "trust-third", &[("RESYNC", "3s")]);
    let want = [format!("{}:8080", ip(2, 1)), format!("{}:8080", ip(2, 2))];
    env.wait_for_targets(
        "drift repaired by the spread resync",
        Duration::from_secs(20),
        &arns[2],
        &[&want[0], &want[1]],
    )
    .await;
    assert_eq!(metric(&third.metrics(), "tgbind_bindings_trusted_at_start_total"), BINDINGS as f64);
}
