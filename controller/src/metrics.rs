//! Prometheus metrics, served on `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabel {
    /// `elbv2` or `ec2`.
    pub family: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetWaitLabels {
    pub family: String,
    /// `change` or `verify`.
    pub priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub operation: String,
    /// `ok`, or the AWS error code.
    pub code: String,
}

pub struct Metrics {
    pub reconcile_duration: Histogram,
    pub reconcile_errors: Family<ReasonLabel, Counter>,
    pub aws_calls: Family<AwsCallLabels, Counter>,
    /// Failed attempts inside the SDK's retries (throttling the retries absorbed shows here).
    pub aws_failed_attempts: Family<CodeLabel, Counter>,
    pub targets_registered: Counter,
    /// Bindings whose first reconcile after a start trusted their record (no AWS read; see `synced`).
    pub bindings_trusted_at_start: Counter,
    /// Verifying reconciles put back because half the workers were verifying already.
    pub verifications_deferred: Counter,
    pub targets_deregistered: Counter,
    /// Pod readiness gate conditions written.
    pub readiness_gate_updates: Counter,
    /// Security-group ingress rules added and revoked for `spec.networking`.
    pub security_group_rules_authorized: Counter,
    pub security_group_rules_revoked: Counter,
    /// Reconciles running now.
    pub reconciles_in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Bindings with an event waiting for their reconcile (timed requeues not counted).
    pub queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub is_leader: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// The API budget's rate now, per family (lower than configured after throttling).
    pub budget_rate: Family<FamilyLabel, Gauge<f64, AtomicU64>>,
    /// Time calls waited for the budget, and calls that went through it.
    pub budget_wait_seconds: Family<BudgetWaitLabels, Counter<f64, AtomicU64>>,
    pub budget_calls: Family<BudgetWaitLabels, Counter>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tgbind");
        let reconcile_duration = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        let reconcile_errors = Family::<ReasonLabel, Counter>::default();
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let aws_failed_attempts = Family::<CodeLabel, Counter>::default();
        let targets_registered = Counter::<u64, AtomicU64>::default();
        let bindings_trusted_at_start = Counter::<u64, AtomicU64>::default();
        let verifications_deferred = Counter::<u64, AtomicU64>::default();
        let targets_deregistered = Counter::<u64, AtomicU64>::default();
        let readiness_gate_updates = Counter::<u64, AtomicU64>::default();
        let security_group_rules_authorized = Counter::<u64, AtomicU64>::default();
        let security_group_rules_revoked = Counter::<u64, AtomicU64>::default();
        let reconciles_in_flight = Gauge::default();
        let queue_depth = Gauge::default();
        let is_leader = Gauge::default();
        let budget_rate = Family::<FamilyLabel, Gauge<f64, AtomicU64>>::default();
        let budget_wait_seconds = Family::<BudgetWaitLabels, Counter<f64, AtomicU64>>::default();
        let budget_calls = Family::<BudgetWaitLabels, Counter>::default();
        registry.register(
            "aws_budget_rate",
            "The AWS API budget's rate now (requests/s), per API family; below the configured rate after throttling",
            budget_rate.clone(),
        );
        registry.register(
            "aws_budget_wait_seconds",
            "Time AWS calls waited for the API budget, by family and priority",
            budget_wait_seconds.clone(),
        );
        registry.register(
            "aws_budget_calls",
            "AWS calls that went through the API budget, by family and priority",
            budget_calls.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time to reconcile one TargetGroupBinding",
            reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that did not reach Ready, by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "aws_api_calls",
            "AWS API calls (ELBv2 and EC2), by operation and result code",
            aws_calls.clone(),
        );
        registry.register(
            "aws_failed_attempts",
            "Failed AWS request attempts, retried ones included, by error code",
            aws_failed_attempts.clone(),
        );
        registry.register("targets_registered", "Targets registered", targets_registered.clone());
        registry.register(
            "bindings_trusted_at_start",
            "Bindings unchanged since their recorded sync, verified later by their spread resync instead of at start",
            bindings_trusted_at_start.clone(),
        );
        registry.register(
            "verifications_deferred",
            "Reconciles with nothing to write put back for a moment because half the workers were verifying, keeping workers free for changes",
            verifications_deferred.clone(),
        );
        registry.register("targets_deregistered", "Targets deregistered", targets_deregistered.clone());
        registry.register(
            "readiness_gate_updates",
            "Pod readiness gate conditions written",
            readiness_gate_updates.clone(),
        );
        registry.register(
            "security_group_rules_authorized",
            "Security-group ingress rules added for spec.networking",
            security_group_rules_authorized.clone(),
        );
        registry.register(
            "security_group_rules_revoked",
            "Security-group ingress rules revoked (only rules the controller manages)",
            security_group_rules_revoked.clone(),
        );
        registry.register("reconciles_in_flight", "Reconciles running now", reconciles_in_flight.clone());
        registry.register(
            "queue_depth",
            "Bindings with an event waiting for their reconcile",
            queue_depth.clone(),
        );
        registry.register("leader", "1 while this replica holds the leader lease", is_leader.clone());
        Self {
            reconcile_duration,
            reconcile_errors,
            aws_calls,
            aws_failed_attempts,
            targets_registered,
            bindings_trusted_at_start,
            verifications_deferred,
            targets_deregistered,
            readiness_gate_updates,
            security_group_rules_authorized,
            security_group_rules_revoked,
            reconciles_in_flight,
            queue_depth,
            is_leader,
            budget_rate,
            budget_wait_seconds,
            budget_calls,
            registry,
        }
    }

    pub fn budget_rate(&self, family: &str, rate: f64) {
        self.budget_rate
            .get_or_create(&FamilyLabel {
                family: family.to_string(),
            })
            .set(rate);
    }

    pub fn budget_waited(&self, family: &str, change: bool, waited: std::time::Duration) {
        let labels = BudgetWaitLabels {
            family: family.to_string(),
            priority: if change { "change" } else { "verify" }.to_string(),
        };
        self.budget_wait_seconds.get_or_create(&labels).inc_by(waited.as_secs_f64());
        self.budget_calls.get_or_create(&labels).inc();
    }

    pub fn aws_call(&self, operation: &str, code: &str, n: u64) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                operation: operation.to_string(),
                code: code.to_string(),
            })
            .inc_by(n);
    }

    /// One AWS operation's outcome: `calls` requests on success (batched writes), or its error code.
    pub fn aws_result<T>(&self, operation: &str, calls: usize, result: &Result<T, tgbind_aws::AwsError>) {
        match result {
            Ok(_) => self.aws_call(operation, "ok", calls as u64),
            Err(e) => self.aws_call(operation, &e.code, 1),
        }
    }

    pub fn failed_attempt(&self, code: &str) {
        self.aws_failed_attempts.get_or_create(&CodeLabel { code: code.to_string() }).inc();
    }

    pub fn reconcile_error(&self, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("metrics encode to a String");
        out
    }
}
