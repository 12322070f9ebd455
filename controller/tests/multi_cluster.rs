//! `multiClusterTargetGroup: true` with two real clusters (two kube-apiservers, two controllers)
//! bound to one target group in one (moto) AWS account: changes interleave, and neither cluster ever
//! removes the other's targets, checked by polling the group throughout.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use support::{wait_for, Env, Spec, NS};

fn targets(ips: &[&str]) -> BTreeSet<String> {
    ips.iter().map(|ip| format!("{ip}:8080")).collect()
}

/// Polls the group until stopped; every snapshot must contain `stable`.
struct Watcher {
    stop: Arc<AtomicBool>,
    violations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<usize>,
}

impl Watcher {
    fn start(elb: tgbind_aws::elbv2::Client, arn: String, stable: BTreeSet<String>) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), violations.clone());
        let task = tokio::spawn(async move {
            let mut polls = 0;
            while !s.load(Ordering::Relaxed) {
                let now = support::registered(&elb, &arn).await;
                let missing: Vec<&String> = stable.difference(&now).collect();
                if !missing.is_empty() {
                    v.lock().unwrap().push(format!("missing {missing:?} in {now:?}"));
                }
                polls += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            polls
        });
        Watcher { stop, violations, task }
    }

    async fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let polls = self.task.await.unwrap();
        assert!(polls > 0, "the watcher never polled");
        self.violations.lock().unwrap().clone()
    }
}

/// The cluster's EndpointSlice of Service `web`: these ready pod IPs.
async fn slice(env: &Env, ips: Vec<&'static str>) {
    let endpoints: Vec<(&str, bool)> = ips.iter().map(|ip| (*ip, true)).collect();
    env.slice("web-abcde", "web", "http", 8080, &endpoints).await;
}

async fn record(env: &Env) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), NS);
    api.get_opt("aws-lbc-targets-web").await.unwrap()?.data?.get("targets").cloned()
}

#[tokio::test]
async fn two_clusters_share_a_target_group_and_never_remove_each_others_targets() {
    let a = Env::start().await;
    let b = Env::start_sharing_aws(&a).await;
    let arn = a.target_group("shared").await;
    for env in [&a, &b] {
        env.service("web", &[("http", 80, 8080)]).await;
    }
    let mut a_ips = vec!["10.1.0.1", "10.1.0.2"];
    let mut b_ips = vec!["10.2.0.1", "10.2.0.2"];
    slice(&a, a_ips.clone()).await;
    slice(&b, b_ips.clone()).await;
    let _controller_a = a.controller("cluster-a");
    let _controller_b = b.controller("cluster-b");
    a.binding("web", Spec::ip("web", 80, &arn).with("multiClusterTargetGroup", true))
        .await;
    b.binding("web", Spec::ip("web", 80, &arn).with("multiClusterTargetGroup", true))
        .await;
    let union = |a_ips: &[&str], b_ips: &[&str]| targets(&[a_ips, b_ips].concat());
    let expected = union(&a_ips, &b_ips);
    wait_for("both clusters registered", Duration::from_secs(20), || async {
        a.targets(&arn).await == expected
    })
    .await;

    // Interleaved changes; during each, the other cluster's (unchanged) targets must never leave.
    let steps: Vec<(bool, Vec<&'static str>)> = vec![
        (true, vec!["10.1.0.1", "10.1.0.3"]),
        (false, vec!["10.2.0.1", "10.2.0.2", "10.2.0.3"]),
        (true, vec!["10.1.0.3"]),
        (false, vec!["10.2.0.3"]),
        (true, vec!["10.1.0.3", "10.1.0.4", "10.1.0.5"]),
        (false, vec![]),
        (false, vec!["10.2.0.9"]),
    ];
    for (step, (is_a, ips)) in steps.into_iter().enumerate() {
        let stable = if is_a { targets(&b_ips) } else { targets(&a_ips) };
        let watcher = Watcher::start(a.elb.clone(), arn.clone(), stable);
        if is_a {
            a_ips = ips.clone();
            slice(&a, ips).await;
        } else {
            b_ips = ips.clone();
            slice(&b, ips).await;
        }
        let expected = union(&a_ips, &b_ips);
        wait_for(&format!("step {step} converged"), Duration::from_secs(20), || async {
            a.targets(&arn).await == expected
        })
        .await;
        let violations = watcher.finish().await;
        assert!(
            violations.is_empty(),
            "step {step}: the other cluster's targets left: {violations:?}"
        );
    }

    // Both change at once: what each keeps must stay throughout.
    let (a_next, b_next) = (vec!["10.1.0.5", "10.1.0.6"], vec!["10.2.0.9", "10.2.0.10"]);
    let watcher = Watcher::start(a.elb.clone(), arn.clone(), targets(&["10.1.0.5", "10.2.0.9"]));
    tokio::join!(slice(&a, a_next.clone()), slice(&b, b_next.clone()));
    let expected = union(&a_next, &b_next);
    wait_for("simultaneous changes converged", Duration::from_secs(20), || async {
        a.targets(&arn).await == expected
    })
    .await;
    assert!(watcher.finish().await.is_empty(), "a kept target left during simultaneous changes");

    // Each cluster's record names exactly its own targets.
    wait_for("records settled", Duration::from_secs(10), || async {
        record(&a).await.as_deref() == Some("10.1.0.5:8080,10.1.0.6:8080")
            && record(&b).await.as_deref() == Some("10.2.0.10:8080,10.2.0.9:8080")
    })
    .await;

    // Retiring cluster A's binding removes exactly A's targets, and its record.
    let watcher = Watcher::start(a.elb.clone(), arn.clone(), targets(&b_next));
    a.tgbs().delete("web", &Default::default()).await.unwrap();
    let expected = targets(&b_next);
    wait_for("A's targets removed", Duration::from_secs(20), || async {
        a.targets(&arn).await == expected
    })
    .await;
    assert!(watcher.finish().await.is_empty(), "B's targets left while A retired");
    wait_for("A's record deleted", Duration::from_secs(10), || async {
        record(&a).await.is_none()
    })
    .await;
}
