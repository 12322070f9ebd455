//! Pod readiness gates (`target-health.elbv2.k8s.aws/<binding>`): on a real kube-apiserver with moto,
//! and a rolling update against the scripted ELB model (health takes time there, as in AWS) that
//! never leaves the target group without a healthy target.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::scripted::{start_in_process, ScriptedElb, ARN};
use support::{wait_for, Env, Spec};
use tgbind_aws::HealthState;

const GATE: &str = "target-health.elbv2.k8s.aws/web";

#[tokio::test]
async fn gated_pods_are_registered_before_ready_and_get_their_condition_moto() {
    let env = Env::start().await;
    let arn = env.target_group("gates").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.pod("gated", "10.4.0.1", Some(GATE), true, false).await;
    env.pod("starting", "10.4.0.2", Some(GATE), false, false).await;
    env.pod("plain", "10.4.0.3", None, true, false).await;
    env.pod("ready", "10.4.0.4", None, true, true).await;
    env.slice_of_pods(
        "web-a",
        "web",
        8080,
        &[
            ("10.4.0.1", "gated", false, false),
            ("10.4.0.2", "starting", false, false),
            ("10.4.0.3", "plain", false, false),
            ("10.4.0.4", "ready", true, false),
        ],
    )
    .await;
    let controller = env.controller("gates");
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    // Only the gated pod with ready containers joins the ready one: the others are not ready for
    // reasons of their own.
    env.wait_for_targets(
        "gated pod registered",
        Duration::from_secs(20),
        &arn,
        &["10.4.0.1:8080", "10.4.0.4:8080"],
    )
    .await;
    // moto reports targets healthy at once: the gate turns True on the next health check.
    wait_for("gate condition True", Duration::from_secs(20), || async {
        env.pod_condition("gated", GATE).await == Some(("True".into(), "Healthy".into()))
    })
    .await;
    assert_eq!(
        env.pod_condition("starting", GATE).await,
        None,
        "a pod whose containers are not ready is left alone"
    );
    // Unknown when first registered (no health data yet), then True.
    assert!(
        controller.metrics().contains("tgbind_readiness_gate_updates_total 2"),
        "{}",
        controller.metrics()
    );
}

/// A Deployment-style rolling update (surge 1, unavailable 0) driven by the test as the kubelet and
/// Deployment controller would: a new pod becomes Ready only when its gate is True, and only then is
/// an old pod terminated. New targets start `initial` and turn healthy after a while, as in ELB.
#[tokio::test]
async fn scripted_elb_rolling_update_never_leaves_the_group_without_a_healthy_target() {
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    let old = ["10.5.0.1", "10.5.0.2", "10.5.0.3"];
    let new = ["10.6.0.1", "10.6.0.2", "10.6.0.3"];
    elb.set(ARN, &old.iter().map(|ip| (*ip, HealthState::Healthy)).collect::<Vec<_>>());
    env.service("web", &[("http", 80, 8080)]).await;
    for (i, ip) in old.iter().enumerate() {
        env.pod(&format!("old-{i}"), ip, Some(GATE), true, true).await;
    }
    // (ip, pod, ready, terminating) for every endpoint, kept by the test as the EndpointSlice
    // controller would.
    let mut endpoints: Vec<(String, String, bool, bool)> = old
        .iter()
        .enumerate()
        .map(|(i, ip)| (ip.to_string(), format!("old-{i}"), true, false))
        .collect();
    let write = |endpoints: Vec<(String, String, bool, bool)>| {
        let env = &env;
        async move {
            let refs: Vec<(&str, &str, bool, bool)> = endpoints.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), *c, *d)).collect();
            env.slice_of_pods("web-a", "web", 8080, &refs).await;
        }
    };
    write(endpoints.clone()).await;
    let metrics = start_in_process(&env, elb.clone()).await;
    env.binding("web", Spec::ip("web", 80, ARN)).await;
    wait_for("synced", Duration::from_secs(10), || async {
        env.ready("web").await.is_some_and(|r| r.0 == "True")
    })
    .await;

    // "ELB": new targets pass their health checks after a while; draining ones leave.
    let stop = Arc::new(AtomicBool::new(false));
    // Which targets ELB has seen pass, so a gate that turned True too early shows.
    let passed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let health_checks = {
        let (elb, stop, passed) = (elb.clone(), stop.clone(), passed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(700)).await;
                let mut all = elb.targets.lock().unwrap();
                let list = all.get_mut(ARN).unwrap();
                list.retain(|h| h.state != HealthState::Draining);
                for h in list.iter_mut().filter(|h| h.state == HealthState::Initial) {
                    h.state = HealthState::Healthy;
                    passed.lock().unwrap().insert(h.target.id.clone());
                }
            }
        })
    };
    // The watcher: the fewest healthy targets the group ever had during the rollout.
    let fewest = Arc::new(AtomicUsize::new(usize::MAX));
    let watcher = {
        let (elb, stop, fewest) = (elb.clone(), stop.clone(), fewest.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let healthy = elb.targets.lock().unwrap()[ARN]
                    .iter()
                    .filter(|h| h.state == HealthState::Healthy)
                    .count();
                fewest.fetch_min(healthy, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    for (i, ip) in new.iter().enumerate() {
        let pod = format!("new-{i}");
        // Surge: the new pod starts; its containers become ready; its gate holds it back.
        env.pod(&pod, ip, Some(GATE), true, false).await;
        endpoints.push((ip.to_string(), pod.clone(), false, false));
        write(endpoints.clone()).await;
        wait_for("the new pod's gate passes", Duration::from_secs(15), || async {
            env.pod_condition(&pod, GATE).await.is_some_and(|c| c.0 == "True")
        })
        .await;
        assert!(
            passed.lock().unwrap().contains(*ip),
            "the gate of {pod} passed before ELB saw {ip} healthy"
        );
        // Kubelet: all gates True and containers ready -> Ready. Deployment: only now an old pod goes.
        env.pod_ready(&pod, ip, true, true).await;
        let last = endpoints.len() - 1;
        endpoints[last].2 = true;
        // The old pod is deleted; its endpoint turns not ready and terminating (a 1.20 apiserver
        // drops `terminating`, a feature gate there: the deleted pod is what tells).
        env.delete_pod(&format!("old-{i}")).await;
        let old_index = endpoints.iter().position(|e| e.1 == format!("old-{i}")).unwrap();
        endpoints[old_index].2 = false;
        endpoints[old_index].3 = true;
        write(endpoints.clone()).await;
        let old_target = format!("deregister {}:8080", old[i]);
        wait_for("the old pod's target deregistered", Duration::from_secs(10), || async {
            elb.writes().contains(&old_target)
        })
        .await;
        endpoints.remove(old_index);
        write(endpoints.clone()).await;
    }
    wait_for("only the new targets remain", Duration::from_secs(15), || async {
        let list = elb.targets.lock().unwrap()[ARN].clone();
        let mut ids: Vec<String> = list.iter().map(|h| h.target.id.clone()).collect();
        ids.sort();
        ids == new && list.iter().all(|h| h.state == HealthState::Healthy)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    health_checks.await.unwrap();
    watcher.await.unwrap();

    let fewest = fewest.load(Ordering::Relaxed);
    assert!(
        fewest >= 1 && fewest != usize::MAX,
        "the group had {fewest} healthy targets at one moment"
    );
    assert!(
        metrics.render().contains("tgbind_readiness_gate_updates_total"),
        "{}",
        metrics.render()
    );
    // Each new pod's gate went False (initial) or Unknown first, then True.
    let updates: u64 = metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("tgbind_readiness_gate_updates_total ")?.parse().ok())
        .unwrap();
    assert!(updates >= new.len() as u64 * 2, "{updates} gate updates");
}

/// A group that no load balancer uses reports `unused`: the gate passes (pods are not blocked
/// forever) and the binding says why.
#[tokio::test]
async fn scripted_elb_group_not_in_use_lets_gates_pass_and_says_so() {
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    elb.set(ARN, &[("10.7.0.1", HealthState::Unused)]);
    env.service("web", &[("http", 80, 8080)]).await;
    env.pod("p", "10.7.0.1", Some(GATE), true, false).await;
    env.slice_of_pods("web-a", "web", 8080, &[("10.7.0.1", "p", false, false)]).await;
    start_in_process(&env, elb.clone()).await;
    env.binding("web", Spec::ip("web", 80, ARN)).await;
    wait_for("gate passes", Duration::from_secs(10), || async {
        env.pod_condition("p", GATE).await == Some(("True".into(), "TargetGroupNotInUse".into()))
    })
    .await;
    wait_for("status says why", Duration::from_secs(10), || async {
        env.ready("web").await == Some(("True".into(), "TargetGroupNotInUse".into()))
    })
    .await;
}

#[tokio::test]
async fn deleting_a_binding_releases_the_pods_waiting_on_its_gate() {
    let env = Env::start().await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.pod("gated", "10.4.2.1", Some(GATE), true, false).await;
    env.slice_of_pods("web-a", "web", 8080, &[("10.4.2.1", "gated", false, false)])
        .await;
    let _controller = env.controller("release");
    // A group that does not exist: the gate can never pass while the binding lives.
    let missing = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing/0123456789abcdef";
    env.binding("web", Spec::ip("web", 80, missing)).await;
    wait_for("TargetGroupNotFound", Duration::from_secs(20), || async {
        env.ready("web").await == Some(("False".into(), "TargetGroupNotFound".into()))
    })
    .await;
    assert_ne!(env.pod_condition("gated", GATE).await.map(|c| c.0), Some("True".into()));
    env.tgbs().delete("web", &Default::default()).await.unwrap();
    wait_for("gate released", Duration::from_secs(20), || async {
        env.pod_condition("gated", GATE).await == Some(("True".into(), "TargetGroupBindingDeleted".into()))
    })
    .await;
}

#[tokio::test]
async fn a_networking_failure_never_holds_back_registration_or_gates() {
    let env = Env::start().await;
    let arn = env.target_group("gates-networking").await;
    env.service("web", &[("http", 80, 8080)]).await;
    // No network interface carries this IP, so spec.networking cannot find its security group.
    env.pod("gated", "10.4.3.1", Some(GATE), true, false).await;
    env.slice_of_pods("web-a", "web", 8080, &[("10.4.3.1", "gated", false, false)])
        .await;
    let _controller = env.controller("gates-networking");
    let networking = serde_json::json!({ "ingress": [{
        "from": [{ "securityGroup": { "groupID": "sg-0123456789abcdef0" } }],
        "ports": [{ "protocol": "TCP", "port": 8080 }],
    }]});
    env.binding("web", Spec::ip("web", 80, &arn).with("networking", networking)).await;
    env.wait_for_targets("registered", Duration::from_secs(20), &arn, &["10.4.3.1:8080"])
        .await;
    wait_for("gate True", Duration::from_secs(20), || async {
        env.pod_condition("gated", GATE).await == Some(("True".into(), "Healthy".into()))
    })
    .await;
    wait_for("the networking failure reported", Duration::from_secs(20), || async {
        env.ready("web").await == Some(("False".into(), "SecurityGroupNotResolved".into()))
    })
    .await;
}
