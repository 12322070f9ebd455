//! Behaviour moto cannot show (it never throttles, never denies, never reports draining), against a
//! scripted model of the ELB API behind the controller's `TargetGroupApi` trait. The controller runs
//! in-process on a real kube-apiserver; only AWS is the model.

mod support;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use support::{wait_for, Env};
use tgbind_aws::{AwsError, ErrorKind, HealthState, Target, TargetHealth};
use tgbind_controller::aws::TargetGroupApi;
use tgbind_controller::metrics::Metrics;
use tgbind_controller::reconcile::Settings;
use tgbind_controller::run::{build, Scope};

const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/scripted/0123456789abcdef";

#[derive(Default)]
struct ScriptedElb {
    targets: Mutex<HashMap<String, Vec<TargetHealth>>>,
    /// Errors returned by the next calls, in order.
    failures: Mutex<VecDeque<AwsError>>,
    /// Every write, as "register 10.0.0.1:80" / "deregister ...".
    writes: Mutex<Vec<String>>,
}

impl ScriptedElb {
    fn fail(&self) -> Result<(), AwsError> {
        match self.failures.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn set(&self, arn: &str, targets: &[(&str, HealthState)]) {
        let list = targets
            .iter()
            .map(|(id, state)| TargetHealth {
                target: Target {
                    id: id.to_string(),
                    port: 8080,
                },
                state: *state,
                reason: None,
            })
            .collect();
        self.targets.lock().unwrap().insert(arn.to_string(), list);
    }
    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }
}

fn error(kind: ErrorKind, code: &str) -> AwsError {
    AwsError {
        kind,
        code: code.to_string(),
        message: format!("{code}: scripted"),
    }
}

#[async_trait]
impl TargetGroupApi for ScriptedElb {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        self.fail()?;
        self.targets
            .lock()
            .unwrap()
            .get(arn)
            .cloned()
            .ok_or_else(|| error(ErrorKind::NotFound, "TargetGroupNotFound"))
    }
    async fn register_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.fail()?;
        let mut all = self.targets.lock().unwrap();
        let list = all.get_mut(arn).unwrap();
        for t in targets {
            self.writes.lock().unwrap().push(format!("register {t}"));
            list.retain(|h| &h.target != t);
            list.push(TargetHealth {
                target: t.clone(),
                state: HealthState::Initial,
                reason: None,
            });
        }
        Ok(())
    }
    async fn deregister_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.fail()?;
        let mut all = self.targets.lock().unwrap();
        let list = all.get_mut(arn).unwrap();
        for t in targets {
            self.writes.lock().unwrap().push(format!("deregister {t}"));
            // ELB keeps a deregistered target as draining for the deregistration delay.
            for h in list.iter_mut().filter(|h| &h.target == t) {
                h.state = HealthState::Draining;
            }
        }
        Ok(())
    }
    async fn target_group_arn_by_name(&self, _: &str) -> Result<Option<String>, AwsError> {
        Ok(Some(ARN.to_string()))
    }
}

async fn start_in_process(env: &Env, elb: Arc<ScriptedElb>) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::new());
    let settings = Settings {
        resync: Duration::from_secs(600),
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(800),
        health_recheck: Duration::from_millis(300),
    };
    let running = build(
        env.client.clone(),
        Scope::default(),
        env.slices.clone(),
        elb,
        metrics.clone(),
        settings,
        4,
    );
    tokio::spawn(running.controller);
    metrics
}

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
    env.binding(
        "b",
        json!({ "serviceRef": { "name": "svc", "port": 80 }, "targetGroupARN": ARN, "targetType": "ip" }),
    )
    .await;

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
    env.binding(
        "b",
        json!({ "serviceRef": { "name": "svc", "port": 80 }, "targetGroupARN": ARN, "targetType": "ip" }),
    )
    .await;
    wait_for("synced", Duration::from_secs(10), || async {
        env.ready("b").await.is_some_and(|r| r.0 == "True")
    })
    .await;
    assert!(elb.writes().is_empty(), "already registered: no writes");

    // Pod 2 goes away: one deregistration; it is draining now.
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true)]).await;
    wait_for("deregistered", Duration::from_secs(10), || async {
        elb.writes() == vec!["deregister 10.9.0.2:8080"]
    })
    .await;
    // More events while it drains: no second deregistration.
    env.slice("svc-a", "svc", "http", 8080, &[("10.9.0.1", true), ("10.9.0.3", false)])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        elb.writes(),
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
    env.binding(
        "b",
        json!({ "serviceRef": { "name": "svc", "port": 80 }, "targetGroupARN": ARN, "targetType": "ip" }),
    )
    .await;
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
