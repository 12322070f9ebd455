//! Leader failover under load: two replicas, 200 endpoints, the leader killed (SIGKILL) in the middle
//! of a rollout. The standby takes over within the lease duration (plus one renew interval), the
//! group converges, and the AWS writes after the failover are the few the change needs (counted at
//! the fault proxy, which records what AWS received), not a burst of duplicates.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{wait_for, Controller, Env, Spec};
use tgbind_testkit::faults::FaultProxy;

const LEASE: Duration = Duration::from_secs(4);
const RENEW: Duration = Duration::from_secs(1);

fn endpoints(prefix: &str) -> Vec<String> {
    (0..100).map(|i| format!("{prefix}.{}", i + 1)).collect()
}

/// (action, target) for every target in the writes AWS received.
fn writes(proxy: &FaultProxy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for body in proxy.forwarded_bodies() {
        let action = ["RegisterTargets", "DeregisterTargets"]
            .into_iter()
            .find(|a| body.contains(&format!("Action={a}")));
        let Some(action) = action else { continue };
        for pair in body.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if k.starts_with("Targets.member.") && k.ends_with(".Id") {
                    out.push((action.to_string(), v.to_string()));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn killing_the_leader_mid_rollout_hands_over_within_the_lease_without_duplicate_writes() {
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    let arn = env.target_group("failover").await;
    env.service("web", &[("http", 80, 8080)]).await;
    let write = |slice: &'static str, ips: Vec<String>| {
        let env = &env;
        async move {
            let eps: Vec<(&str, bool)> = ips.iter().map(|ip| (ip.as_str(), true)).collect();
            env.slice(slice, "web", "http", 8080, &eps).await;
        }
    };
    write("web-a", endpoints("10.60.0")).await;
    write("web-b", endpoints("10.60.1")).await;
    let extra = [("AWS_ENDPOINT_URL", proxy.endpoint())];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut a = Controller::start(&env, "replica-a", &extra);
    wait_for("replica a leads", Duration::from_secs(10), || async { a.is_leader() }).await;
    let mut b = Controller::start(&env, "replica-b", &extra);
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    wait_for("200 targets registered", Duration::from_secs(30), || async {
        env.targets(&arn).await.len() == 200
    })
    .await;
    assert!(!b.is_leader(), "two leaders");
    let before_failover = writes(&proxy).len();

    // The rollout: slice b moves to 100 new pods; the leader dies a moment later.
    write("web-b", endpoints("10.60.2")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.kill();
    let killed = Instant::now();
    wait_for("replica b takes over", LEASE + RENEW * 3, || async { b.is_leader() }).await;
    let takeover = killed.elapsed();
    let expected: std::collections::BTreeSet<String> = endpoints("10.60.0")
        .into_iter()
        .chain(endpoints("10.60.2"))
        .map(|ip| format!("{ip}:8080"))
        .collect();
    wait_for("converged after the failover", Duration::from_secs(20), || async {
        env.targets(&arn).await == expected
    })
    .await;

    assert!(takeover <= LEASE + RENEW + Duration::from_millis(500), "takeover took {takeover:?}");
    // Every target was written as often as the change needs: each new pod registered once, each old
    // pod deregistered once, whichever replica did it.
    let all = writes(&proxy);
    let after: &[(String, String)] = &all[before_failover..];
    let mut per_target: BTreeMap<&(String, String), usize> = BTreeMap::new();
    for w in after {
        *per_target.entry(w).or_default() += 1;
    }
    let duplicated: Vec<_> = per_target.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicate writes after the failover: {duplicated:?}");
    assert_eq!(
        after.len(),
        200,
        "100 deregistrations and 100 registrations expected, AWS saw {}",
        after.len()
    );
    eprintln!(
        "failover: standby led {:.1} s after the kill; {} target writes after it, none twice",
        takeover.as_secs_f64(),
        after.len()
    );
    b.kill();
}
