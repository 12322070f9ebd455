//! Kubernetes API faults: kube-apiserver restarts (every watch breaks), watch expiry (etcd compacted,
//! so resuming watches get 410 Gone and list again), and write conflicts on the finalizer while
//! another actor edits the same binding. The controller keeps converging and never exits.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{wait_for, Env, Spec, NS};

/// Sends a signal to the controller process (`STOP` freezes it, `CONT` thaws it).
fn signal(controller: &support::Controller, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), controller.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[tokio::test]
async fn apiserver_restarts_watch_expiry_and_conflicts() {
    let env = Env::start().await;
    let arn = env.target_group("api-faults").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.30.0.1", true)]).await;
    // Without leader election here, so watches resume across the restarts (and meet 410 Gone);
    // losing the lease during an outage is the next test.
    let mut controller = support::Controller::start(
        &env,
        "api-faults",
        &[("LOG_LEVEL", "info,kube_runtime=debug"), ("LEADER_ELECT", "false")],
    );
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    env.wait_for_targets("registered", Duration::from_secs(20), &arn, &["10.30.0.1:8080"])
        .await;

    // 1. The apiserver restarts (killed, not drained): watches break and reconnect.
    let started = std::time::Instant::now();
    env.api.restart();
    let restarted = started.elapsed();
    env.slice("web-a", "web", "http", 8080, &[("10.30.0.1", true), ("10.30.0.2", true)])
        .await;
    let changed = std::time::Instant::now();
    env.wait_for_targets(
        "converged after an apiserver restart",
        Duration::from_secs(30),
        &arn,
        &["10.30.0.1:8080", "10.30.0.2:8080"],
    )
    .await;
    println!(
        "apiserver restart: back up in {:.1} s; the change made then was registered {:.1} s later",
        restarted.as_secs_f64(),
        changed.elapsed().as_secs_f64()
    );

    // 2. Watch expiry: the controller is frozen (SIGSTOP), so no event or bookmark can move its
    //    watches on; writes it does not watch move etcd's revision on, etcd is compacted past the
    //    controller's last resourceVersion, and the apiserver restarts without its watch cache. Thawed,
    //    every watch resumes from a compacted revision against etcd itself: 410 Gone, then a new list.
    let others: Api<ConfigMap> = Api::namespaced(env.client.clone(), NS);
    signal(&controller, "STOP");
    for i in 0..40 {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("noise-{i}")),
                ..Default::default()
            },
            ..Default::default()
        };
        others.create(&PostParams::default(), &cm).await.unwrap();
    }
    env.api.compact_etcd();
    env.api.restart_with("--watch-cache=false");
    env.slice("web-a", "web", "http", 8080, &[("10.30.0.2", true), ("10.30.0.3", true)])
        .await;
    let log_before_thaw = controller.logs().len();
    signal(&controller, "CONT");
    let thawed = std::time::Instant::now();
    env.wait_for_targets(
        "converged after watch expiry",
        Duration::from_secs(30),
        &arn,
        &["10.30.0.2:8080", "10.30.0.3:8080"],
    )
    .await;
    println!(
        "watch expiry: converged {:.1} s after the controller was thawed",
        thawed.elapsed().as_secs_f64()
    );

    // 3. Conflicts: another actor keeps editing a new binding's finalizers and annotations while the
    //    controller adds its finalizer and writes status.
    env.binding("contested", Spec::ip("web", 80, &env.target_group("contested").await))
        .await;
    for i in 0..40 {
        let patch = json!({ "metadata": {
            "annotations": { "example.com/edit": i.to_string() },
            "finalizers": if i % 2 == 0 { json!(["example.com/keep"]) } else { json!(null) },
        }});
        // The controller's finalizer may be in the list by now: merge it back rather than drop it.
        let current = env.tgbs().get("contested").await.unwrap();
        let mut finalizers = current.metadata.finalizers.unwrap_or_default();
        finalizers.retain(|f| f != "example.com/keep");
        if i % 2 == 0 {
            finalizers.push("example.com/keep".into());
        }
        let mut patch = patch;
        patch["metadata"]["finalizers"] = json!(finalizers);
        let _ = env.tgbs().patch("contested", &PatchParams::default(), &Patch::Merge(&patch)).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    wait_for(
        "the contested binding is Ready with our finalizer",
        Duration::from_secs(20),
        || async {
            let b = env.tgbs().get("contested").await.unwrap();
            let ours = b
                .metadata
                .finalizers
                .unwrap_or_default()
                .iter()
                .any(|f| f == "elbv2.k8s.aws/resources");
            ours && env.ready("contested").await.is_some_and(|r| r.0 == "True")
        },
    )
    .await;

    assert!(
        controller.child.try_wait().unwrap().is_none(),
        "the controller exited:\n{}",
        controller.logs()
    );
    let logs = controller.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    // The frozen watches did resume from a compacted revision, and were told so (after the thaw).
    let expired = logs[log_before_thaw..]
        .lines()
        .filter(|l| l.contains("watch failed") && (l.contains("too old") || l.contains(": Expired")));
    let expired: Vec<&str> = expired.collect();
    assert!(!expired.is_empty(), "no watch met 410 Gone after the compaction:\n{logs}");
    println!(
        "watch expiry: {} watch(es) got 410 Gone after the thaw and listed again; first: {}",
        expired.len(),
        expired[0]
    );
    controller.kill();
}

/// An outage longer than the lease: the leader stops reconciling, stands by, leads again when the
/// apiserver is back, and converges; the process never exits.
#[tokio::test]
async fn losing_the_lease_in_an_outage_stands_by_instead_of_exiting() {
    let env = Env::start().await;
    let arn = env.target_group("outage").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.31.0.1", true)]).await;
    let mut controller = env.controller("outage");
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    env.wait_for_targets("registered", Duration::from_secs(20), &arn, &["10.31.0.1:8080"])
        .await;
    // Down for 6 s: longer than the test lease (4 s).
    env.api.restart_after_outage(6);
    env.slice("web-a", "web", "http", 8080, &[("10.31.0.2", true)]).await;
    env.wait_for_targets("converged after leading again", Duration::from_secs(30), &arn, &["10.31.0.2:8080"])
        .await;
    let logs = controller.logs();
    assert!(logs.contains("standing by to lead again"), "the lease was not lost:\n{logs}");
    assert_eq!(logs.matches("became leader").count(), 2, "{logs}");
    assert!(controller.child.try_wait().unwrap().is_none(), "the controller exited:\n{logs}");
    assert!(controller.is_leader());
    controller.kill();
}
