//! Crash safety: the controller is killed with SIGKILL at random points (12 times) during a rollout
//! of a multi-cluster binding. After each restart the group converges to the desired targets, and
//! targets another cluster registered in the same group are never touched.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{wait_for, Env, Spec};
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
