//! A scripted model of the ELB API behind the controller's `TargetGroupApi` trait, for behaviour
//! moto cannot show (it never throttles, never denies, reports targets healthy at once and never
//! draining), and the controller run in-process against it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tgbind_aws::{AwsError, ErrorKind, HealthState, Registration, Target, TargetGroupFacts, TargetHealth};
use tgbind_controller::aws::{SingleAccount, TargetGroupApi};
use tgbind_controller::context::Settings;
use tgbind_controller::metrics::Metrics;
use tgbind_controller::run::{build, AwsBackends, Scope};

use super::Env;

pub const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/scripted/0123456789abcdef";

#[derive(Default)]
pub struct ScriptedElb {
    pub targets: Mutex<HashMap<String, Vec<TargetHealth>>>,
    /// Errors returned by the next calls, in order.
    pub failures: Mutex<VecDeque<AwsError>>,
    /// Every write, as "register 10.0.0.1:80" / "deregister ...".
    pub writes: Mutex<Vec<String>>,
    /// DescribeTargetHealth calls so far.
    pub describes: std::sync::atomic::AtomicUsize,
}

impl ScriptedElb {
    fn fail(&self) -> Result<(), AwsError> {
        match self.failures.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    pub fn set(&self, arn: &str, targets: &[(&str, HealthState)]) {
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
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }
}

pub fn error(kind: ErrorKind, code: &str) -> AwsError {
    AwsError {
        kind,
        code: code.to_string(),
        message: format!("{code}: scripted"),
    }
}

#[async_trait]
impl TargetGroupApi for ScriptedElb {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        self.describes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.fail()?;
        self.targets
            .lock()
            .unwrap()
            .get(arn)
            .cloned()
            .ok_or_else(|| error(ErrorKind::NotFound, "TargetGroupNotFound"))
    }
    async fn register_targets(&self, arn: &str, targets: &[Registration]) -> Result<(), AwsError> {
        self.fail()?;
        let mut all = self.targets.lock().unwrap();
        let list = all.get_mut(arn).unwrap();
        for t in targets.iter().map(|r| &r.target) {
            self.writes.lock().unwrap().push(format!("register {t}"));
            // As in ELB, registering a target that is registered (and not draining) changes nothing.
            if list.iter().any(|h| &h.target == t && h.state != HealthState::Draining) {
                continue;
            }
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
    /// Every scripted group is an ip group (in no VPC the model knows).
    async fn describe_target_group(&self, arn: Option<&str>, _name: Option<&str>) -> Result<Option<TargetGroupFacts>, AwsError> {
        let arn = arn.unwrap_or(ARN).to_string();
        if !self.targets.lock().unwrap().contains_key(&arn) {
            return Ok(None);
        }
        Ok(Some(TargetGroupFacts {
            arn,
            name: "scripted".into(),
            target_type: "ip".into(),
            ip_address_type: "ipv4".into(),
            vpc_id: None,
            protocol: Some("HTTP".into()),
            port: Some(80),
        }))
    }
    async fn vpc_cidrs(&self, _: &str) -> Result<Option<Vec<String>>, AwsError> {
        Ok(None)
    }
}

pub async fn start_in_process(env: &Env, elb: Arc<ScriptedElb>) -> Arc<Metrics> {
    start_in_process_with(
        env,
        elb,
        Settings {
            resync: Duration::from_secs(600),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(800),
            health_recheck: Duration::from_millis(300),
        },
    )
    .await
}

pub async fn start_in_process_with(env: &Env, elb: Arc<ScriptedElb>, settings: Settings) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::new());
    let running = build(
        env.client.clone(),
        Scope::default(),
        env.slices.clone(),
        AwsBackends {
            accounts: Arc::new(SingleAccount(elb)),
            networking: None,
        },
        metrics.clone(),
        settings,
        4,
    );
    tokio::spawn(running.controller);
    metrics
}
