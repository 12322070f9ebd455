//! Behaviour moto cannot show (it never throttles, never denies, never reports draining), against a
//! scripted model of the ELB API behind the controller's `TargetGroupApi` trait. The controller runs
//! in-process on a real kube-apiserver; only AWS is the model.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::scripted::{error, start_in_process, ScriptedElb, ARN};
use support::{wait_for, Env, Spec};
use tgbind_aws::{ErrorKind, HealthState};

#[tokio::test]
async fn scripted_elb_throttling_and_access_denied_show_in_status_and_recover_with_backoff() {
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    elb.set(ARN, &[]);
    for _ in 0..3 {
        elb.failures.lock().unwrap().push_back(error(ErrorKind::Throttled, "Throttling"));
    }
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.8.0.1", true)]).await;
    let metrics = start_in_process(&env, elb.clone()).await;
    env.binding("b", Spec::ip("svc", 80, ARN)).await;

    wait_for("Throttled in status", Duration::from_secs(10), || async {
        env.ready("b").await == Some(("False".into(), "Throttled".into()))
    })
    .await;
    let failures = env.tgbs().get("b").await.unwrap().status.unwrap().consecutive_failures;
    assert!(failures.unwrap_or(0) >= 1, "{failures:?}");
    // After the storm the backoff retries and converges (cap 800 ms here).
    wait_for("recovered", Duration::from_secs(10), || async {
        env.ready("b").await == Some(("True".into(), "Synced".into()))
    })
    .await;
    assert_eq!(elb.writes(), vec!["register 10.8.0.1:8080"]);
    let status = env.tgbs().get("b").await.unwrap().status.unwrap();
    assert_eq!(status.consecutive_failures, None, "{status:?}");
    assert!(metrics.render().contains("tgbind_reconcile_errors_total{reason=\"Throttled\"}"));

    // AccessDenied on the next change: reported, nothing deregistered.
    elb.failures
        .lock()
        .unwrap()
        .push_back(error(ErrorKind::AccessDenied, "AccessDenied"));
    elb.failures
        .lock()
        .unwrap()
        .push_back(error(ErrorKind::AccessDenied, "AccessDenied"));
    env.slice("svc-a", "svc", "http", 8080, &[]).await;
    wait_for("AccessDenied in status", Duration::from_secs(10), || async {
        env.ready("b").await == Some(("False".into(), "AccessDenied".into()))
    })
    .await;
    wait_for("then deregistered once permitted", Duration::from_secs(10), || async {
        elb.writes().len() == 2
    })
    .await;
    assert_eq!(elb.writes()[1], "deregister 10.8.0.1:8080");
}

#[tokio::test]
async fn scripted_elb_draining_targets_are_not_deregistered_twice_and_come_back() {
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    elb.set(ARN, &[("10.9.0.1", HealthState::Healthy), ("10.9.0.2", HealthState::Healthy)]);
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true), ("10.9.0.2", true)])
        .await;
    start_in_process(&env, elb.clone()).await;
    env.binding("b", Spec::ip("svc", 80, ARN)).await;
    wait_for("synced", Duration::from_secs(10), || async {
        env.ready("b").await.is_some_and(|r| r.0 == "True")
    })
    .await;
    // A binding no controller reported on registers what it wants before it reads (for targets
    // already there, a no-op in ELB: both stay healthy).
    let first = vec!["register 10.9.0.1:8080", "register 10.9.0.2:8080"];
    assert_eq!(elb.writes(), first);
    let after_first = || elb.writes().split_off(first.len());

    // Pod 2 goes away: one deregistration; it is draining now.
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true)]).await;
    wait_for("deregistered", Duration::from_secs(10), || async {
        after_first() == vec!["deregister 10.9.0.2:8080"]
    })
    .await;
    // More events while it drains: no second deregistration.
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true), ("10.9.0.3", false)])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        after_first(),
        vec!["deregister 10.9.0.2:8080"],
        "a draining target is never deregistered twice"
    );

    // A pod comes back on the draining IP: registered again.
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true), ("10.9.0.2", true)])
        .await;
    wait_for("registered again", Duration::from_secs(10), || async {
        elb.writes().last().map(String::as_str) == Some("register 10.9.0.2:8080")
    })
    .await;
}

#[tokio::test]
async fn scripted_elb_new_targets_turning_healthy_show_in_status_without_any_event() {
    let env = Env::start().await;
    let elb = Arc::new(ScriptedElb::default());
    elb.set(ARN, &[]);
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.10.0.1", true)]).await;
    start_in_process(&env, elb.clone()).await;
    env.binding("b", Spec::ip("svc", 80, ARN)).await;
    wait_for("registered (initial)", Duration::from_secs(10), || async {
        env.tgbs()
            .get("b")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.registered_targets == Some(1) && s.healthy_targets == Some(0))
    })
    .await;
    // ELB's health checks pass; nothing changes in Kubernetes.
    elb.set(ARN, &[("10.10.0.1", HealthState::Healthy)]);
    wait_for("healthy count follows", Duration::from_secs(5), || async {
        env.tgbs()
            .get("b")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.healthy_targets == Some(1))
    })
    .await;
    assert_eq!(elb.writes(), vec!["register 10.10.0.1:8080"], "re-checking health writes nothing");
}
