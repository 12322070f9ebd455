//! One reconcile of one TargetGroupBinding: read what the cluster wants (from the watch caches),
//! read what the target group holds, write the difference (deregister first, then register), and
//! report it in status and events. Decisions are in `desired` and `status`; this file does the I/O.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::runtime::finalizer::{finalizer, Event};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use rand::Rng;
use tgbind_aws::{AwsError, ErrorKind, Target};
use tracing::{info, instrument, warn};

use crate::aws::TargetGroupApi;
use crate::crd::{IpAddressType, TargetGroupBinding, TargetGroupBindingStatus, TargetType, FINALIZER};
use crate::desired::{
    endpoint_pod, endpoint_targets, healthy_count, instance_targets, ip_targets, plan_changes, plan_owned_changes, registered,
    resolve_node_port, resolve_service_port,
};
use crate::endpoints::EndpointSliceObject;
use crate::index::{service_key, Index, Pending};
use crate::metrics::Metrics;
use crate::networking::{rules as network_rules, NetworkingError, SecurityGroupRules};
use crate::ownership;
use crate::readiness::{condition_for, gate_type, needs_update, waits_only_on_gate, GateCondition};

/// Pod condition writes in flight at once for one binding.
const GATE_WRITES_IN_FLIGHT: usize = 16;
use crate::status::{next_status, ready_reason, Problem, Retry, Synced};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Re-check every binding this often even without events (drift in AWS).
    pub resync: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// While some registered targets are not healthy yet, look again this soon (this group only).
    pub health_recheck: Duration,
}

pub struct Context {
    pub client: kube::Client,
    pub aws: Arc<dyn TargetGroupApi>,
    pub bindings: Store<TargetGroupBinding>,
    pub services: Store<Service>,
    pub slices: Store<EndpointSliceObject>,
    /// Nodes, for instance targets.
    pub nodes: Store<Node>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    pub pending: Arc<Pending>,
    pub bindings_by_arn: Arc<Index<TargetGroupBinding>>,
    pub slices_by_service: Arc<Index<EndpointSliceObject>>,
    /// The EndpointSlice version in use (part of a slice's cache key).
    pub slice_resource: kube::api::ApiResource,
    /// Security-group rules for `spec.networking`; `None` where EC2 is not available (tests of
    /// the ELB model alone), and bindings asking for rules are then told so.
    pub networking: Option<Arc<SecurityGroupRules>>,
    /// Named container ports of the pods behind each binding's endpoints (see `container_ports`).
    pub named_ports: NamedPortCache,
}

/// Per binding: (pod name, address) -> the pod's named container ports.
pub type NamedPortCache = std::sync::Mutex<HashMap<String, HashMap<(String, String), Vec<(String, i32)>>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patch_clears_fields_that_went_away() {
        let prev = TargetGroupBindingStatus {
            consecutive_failures: Some(3),
            registered_targets: Some(1),
            ..Default::default()
        };
        let next = TargetGroupBindingStatus {
            registered_targets: Some(2),
            ..Default::default()
        };
        let patch = status_patch(Some(&prev), &next);
        assert_eq!(patch["status"]["consecutiveFailures"], serde_json::Value::Null);
        assert!(patch["status"].as_object().unwrap().contains_key("consecutiveFailures"));
        assert_eq!(patch["status"]["registeredTargets"], 2);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error("AWS: {0}")]
    Aws(#[from] AwsError),
    #[error("security group rules: {0}")]
    Networking(String),
}

/// Exponential backoff with full jitter, capped: retry `n` waits a random time up to
/// min(cap, base * 2^n).
pub fn backoff(failures: u32, settings: &Settings) -> Duration {
    let ceiling = settings
        .backoff_base
        .saturating_mul(1u32 << failures.min(20))
        .min(settings.backoff_cap);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

pub async fn reconcile(tgb: Arc<TargetGroupBinding>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = tgb.namespace().unwrap_or_default();
    let api: Api<TargetGroupBinding> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.metrics
        .queue_depth
        .set(ctx.pending.started(&ObjectRef::from_obj(tgb.as_ref())) as i64);
    ctx.metrics.reconciles_in_flight.inc();
    let started = std::time::Instant::now();
    let result = finalizer(&api, FINALIZER, tgb, |event| async {
        match event {
            Event::Apply(tgb) => apply(&tgb, &api, &ctx).await,
            Event::Cleanup(tgb) => cleanup(&tgb, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(e.to_string()));
    ctx.metrics.reconciles_in_flight.dec();
    ctx.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
    result
}

/// Retries for errors that escaped `apply` (a failed status write, a finalizer patch conflict).
pub fn error_policy(tgb: Arc<TargetGroupBinding>, err: &Error, ctx: Arc<Context>) -> Action {
    warn!(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default(), error = %err, "reconcile failed");
    ctx.metrics.reconcile_error("ControllerError");
    let failures = tgb.status.as_ref().and_then(|s| s.consecutive_failures).unwrap_or(0) as u32;
    Action::requeue(backoff(failures + 1, &ctx.settings))
}

#[instrument(skip_all, fields(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default()))]
async fn apply(tgb: &TargetGroupBinding, api: &Api<TargetGroupBinding>, ctx: &Context) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let outcome = sync(tgb, ctx).await;
    let prev = tgb.status.as_ref();
    let next = next_status(prev, tgb.meta().generation, &outcome, Time(k8s_openapi::jiff::Timestamp::now()));
    let reference = tgb.object_ref(&());
    match &outcome {
        Ok(_) => {}
        Err(p) => {
            ctx.metrics.reconcile_error(p.reason);
            // One event per new problem, not one per retry.
            if ready_reason(prev) != Some(p.reason) {
                publish(ctx, &reference, EventType::Warning, p.reason, &p.message).await;
            }
            warn!(reason = p.reason, message = %p.message, "binding not ready");
        }
    }
    if prev != Some(&next) {
        api.patch_status(&tgb.name_any(), &PatchParams::default(), &Patch::Merge(status_patch(prev, &next)))
            .await?;
    }
    Ok(match outcome {
        // Targets on their way to healthy (and pods waiting on their gates): look again soon, this
        // group only. A group no load balancer uses never gets healthier.
        // The interval runs from this reconcile's start, so health is read every `health_recheck`
        // however long the reconcile took.
        Ok(s) if s.healthy < s.desired && !s.not_in_use => {
            let interval = ctx.settings.health_recheck.min(ctx.settings.resync);
            Action::requeue(interval.saturating_sub(started.elapsed()).max(Duration::from_millis(50)))
        }
        Ok(_) => Action::requeue(ctx.settings.resync),
        Err(p) if p.retry == Retry::OnChange => Action::await_change(),
        Err(_) => Action::requeue(backoff(next.consecutive_failures.unwrap_or(1) as u32, &ctx.settings)),
    })
}

/// A JSON merge patch from `prev` to `next`: fields `next` leaves out are sent as null, since a merge
/// patch that omits a field keeps its old value.
fn status_patch(prev: Option<&TargetGroupBindingStatus>, next: &TargetGroupBindingStatus) -> serde_json::Value {
    let mut fields = match serde_json::to_value(next) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if let Some(serde_json::Value::Object(old)) = prev.and_then(|p| serde_json::to_value(p).ok()) {
        for key in old.keys() {
            fields.entry(key.clone()).or_insert(serde_json::Value::Null);
        }
    }
    serde_json::json!({ "status": fields })
}

async fn publish(ctx: &Context, reference: &k8s_openapi::api::core::v1::ObjectReference, kind: EventType, reason: &str, note: &str) {
    let event = KubeEvent {
        type_: kind,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, reference).await {
        warn!(error = %e, "could not publish event");
    }
}

fn aws_problem(e: AwsError, arn: &str) -> Problem {
    match e.kind {
        ErrorKind::NotFound => Problem::new(
            "TargetGroupNotFound",
            format!("target group {arn} does not exist (deleted out of band?): {}", e.message),
            Retry::Backoff,
        ),
        ErrorKind::AccessDenied => Problem::new("AccessDenied", e.message, Retry::Backoff),
        ErrorKind::Throttled => Problem::new("Throttled", e.message, Retry::Backoff),
        ErrorKind::Invalid => Problem::new("InvalidTargets", e.message, Retry::Backoff),
        _ => Problem::new("AWSError", e.message, Retry::Backoff),
    }
}

fn record_problem(e: kube::Error) -> Problem {
    Problem::new(
        "OwnershipRecordFailed",
        format!("could not read or write the multi-cluster ownership ConfigMap: {e}"),
        Retry::Backoff,
    )
}

/// The target group this binding names, checked for form.
fn arn_problem(arn: &str) -> Option<Problem> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "elasticloadbalancing"
        && parts[5].starts_with("targetgroup/")
        && parts[5].split('/').count() == 3;
    (!ok).then(|| Problem::new("InvalidSpec", format!("spec.targetGroupARN {arn:?} is not a target group ARN (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)"), Retry::OnChange))
}

/// Validation that needs no I/O: form of the spec, immutable fields, one binding per group.
fn check_spec(tgb: &TargetGroupBinding, ctx: &Context) -> Result<(), Problem> {
    let spec = &tgb.spec;
    if spec.service_ref.name.is_empty() {
        return Err(Problem::new("InvalidSpec", "spec.serviceRef.name is empty", Retry::OnChange));
    }
    match (&spec.target_group_arn, &spec.target_group_name) {
        (Some(arn), _) => {
            if let Some(p) = arn_problem(arn) {
                return Err(p);
            }
        }
        (None, Some(name)) if !name.is_empty() => {}
        _ => {
            return Err(Problem::new(
                "InvalidSpec",
                "set spec.targetGroupARN (or spec.targetGroupName)",
                Retry::OnChange,
            ))
        }
    }
    if let Some(networking) = &spec.networking {
        network_rules::validate(networking, tgb.target_type()).map_err(|e| Problem::new("InvalidSpec", e, Retry::OnChange))?;
    }
    if let (Some(recorded), Some(arn)) = (
        tgb.status.as_ref().and_then(|s| s.target_group_arn.as_ref()),
        &spec.target_group_arn,
    ) {
        if recorded != arn {
            return Err(Problem::new(
                "ImmutableFieldChanged",
                format!("spec.targetGroupARN changed from {recorded} to {arn}; it cannot change. Targets stay in {recorded}: delete this binding and create a new one."),
                Retry::OnChange,
            ));
        }
    }
    // Two bindings writing one group (without multiCluster) would undo each other: the older wins.
    if let Some(arn) = &spec.target_group_arn {
        let me = tgb.uid();
        let same_group = ctx
            .bindings_by_arn
            .get(arn)
            .into_iter()
            .filter_map(|(ns, name)| ctx.bindings.get(&ObjectRef::new(&name).within(&ns)));
        let older = same_group.into_iter().find(|other| {
            // Bindings that both declare a multi-cluster group each own their own targets.
            let sharing = ownership::is_multi_cluster(tgb) && ownership::is_multi_cluster(other);
            !sharing
                && other.uid() != me
                && other.spec.target_group_arn.as_ref() == Some(arn)
                && other.meta().deletion_timestamp.is_none()
                && (other.meta().creation_timestamp.as_ref().map(|t| t.0), other.name_any())
                    < (tgb.meta().creation_timestamp.as_ref().map(|t| t.0), tgb.name_any())
        });
        if let Some(other) = older {
            return Err(Problem::new(
                "TargetGroupAlreadyBound",
                format!(
                    "target group {arn} is bound by {}/{}; this binding makes no changes to it",
                    other.namespace().unwrap_or_default(),
                    other.name_any()
                ),
                Retry::OnChange,
            ));
        }
    }
    Ok(())
}

async fn resolve_arn(tgb: &TargetGroupBinding, ctx: &Context) -> Result<String, Problem> {
    if let Some(arn) = &tgb.spec.target_group_arn {
        return Ok(arn.clone());
    }
    let name = tgb.spec.target_group_name.clone().unwrap_or_default();
    match ctx.aws.target_group_arn_by_name(&name).await {
        Ok(Some(arn)) => Ok(arn),
        Ok(None) => Err(Problem::new(
            "TargetGroupNotFound",
            format!("no target group named {name:?}"),
            Retry::Backoff,
        )),
        Err(e) => Err(aws_problem(e, &name)),
    }
}

/// The Service's EndpointSlices, found through the index and shared from the watch cache.
fn slices_of(ctx: &Context, namespace: &str, service: &str) -> Vec<Arc<EndpointSliceObject>> {
    ctx.slices_by_service
        .get(&service_key(namespace, service))
        .into_iter()
        .filter_map(|(ns, name)| ctx.slices.get(&ObjectRef::new_with(&name, ctx.slice_resource.clone()).within(&ns)))
        .collect()
}

async fn sync(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Synced, Problem> {
    // Never decide from half-filled caches: an empty slice cache would read as "no endpoints".
    let _ = ctx.services.wait_until_ready().await;
    let _ = ctx.slices.wait_until_ready().await;
    check_spec(tgb, ctx)?;
    let ns = tgb.namespace().unwrap_or_default();
    let svc_name = &tgb.spec.service_ref.name;
    // A missing Service or port stops here: nothing is deregistered on the strength of an absence
    // that may be a typo or a moment in a redeploy.
    let service = ctx.services.get(&ObjectRef::new(svc_name).within(&ns)).ok_or_else(|| {
        Problem::new(
            "ServiceNotFound",
            format!("Service {ns}/{svc_name} does not exist; registered targets are left as they are"),
            Retry::Backoff,
        )
    })?;
    let port_problem = |e: crate::desired::ResolveError| {
        Problem::new(
            "PortNotFound",
            format!("{e}; registered targets are left as they are"),
            Retry::Backoff,
        )
    };
    let family = tgb.spec.ip_address_type.unwrap_or(IpAddressType::Ipv4);
    let gate = gate_type(&tgb.name_any());
    let (desired, slices, port_name, waiting) = match tgb.target_type() {
        TargetType::Ip => {
            let port_name = resolve_service_port(&service, &tgb.spec.service_ref.port).map_err(port_problem)?;
            let slices = slices_of(ctx, &ns, svc_name);
            // Pods that are not Ready only because they wait for this binding's readiness gate:
            // their endpoints are registered too, or the gate could never pass.
            let waiting = pods_waiting_on_gate(ctx, &ns, &slices, &gate).await;
            let gated: BTreeSet<String> = waiting.iter().filter_map(|p| p.metadata.name.clone()).collect();
            let desired = ip_targets(slices.iter().map(|s| &s.slice), &port_name, family, &gated);
            (desired, slices, port_name, waiting)
        }
        TargetType::Instance => {
            // Every eligible node at the Service's NodePort; never from a half-filled node cache.
            let node_port = resolve_node_port(&service, &tgb.spec.service_ref.port).map_err(port_problem)?;
            let _ = ctx.nodes.wait_until_ready().await;
            let nodes = ctx.nodes.state();
            let desired = instance_targets(nodes.iter().map(|n| n.as_ref()), tgb.spec.node_selector.as_ref(), node_port);
            (desired, Vec::new(), String::new(), Vec::new())
        }
    };

    let arn = resolve_arn(tgb, ctx).await?;
    let current = ctx.aws.describe_target_health(&arn).await.map_err(|e| aws_problem(e, &arn))?;
    // In a group shared with other clusters, only what our record names is ours to remove.
    let owned = if ownership::is_multi_cluster(tgb) {
        Some(ownership::read(&ctx.client, tgb).await.map_err(record_problem)?)
    } else {
        None
    };
    let changes = match &owned {
        Some(owned) => plan_owned_changes(&desired, &current, owned),
        None => plan_changes(&desired, &current),
    };
    let reference = tgb.object_ref(&());
    if let Some(owned) = &owned {
        // The record grows before RegisterTargets: a crash in between leaves a record naming a
        // target that is not registered (harmless), never a registered target nobody owns.
        let grown: BTreeSet<Target> = owned.iter().chain(&changes.register).cloned().collect();
        if &grown != owned {
            ownership::write(&ctx.client, tgb, &grown).await.map_err(record_problem)?;
        }
    }
    if !changes.deregister.is_empty() {
        ctx.aws
            .deregister_targets(&arn, &changes.deregister)
            .await
            .map_err(|e| aws_problem(e, &arn))?;
        ctx.metrics.targets_deregistered.inc_by(changes.deregister.len() as u64);
        announce(ctx, &reference, "TargetsDeregistered", "deregistered", &changes.deregister).await;
    }
    if !changes.register.is_empty() {
        ctx.aws
            .register_targets(&arn, &changes.register)
            .await
            .map_err(|e| aws_problem(e, &arn))?;
        ctx.metrics.targets_registered.inc_by(changes.register.len() as u64);
        announce(ctx, &reference, "TargetsRegistered", "registered", &changes.register).await;
    }
    if let Some(owned) = &owned {
        // Everything desired is registered now and nothing else of ours is: the record shrinks to it.
        let grown: BTreeSet<Target> = owned.iter().chain(&changes.register).cloned().collect();
        if grown != desired {
            ownership::write(&ctx.client, tgb, &desired).await.map_err(record_problem)?;
        }
    }
    sync_networking(tgb, ctx, &desired, &slices).await?;
    if !waiting.is_empty() {
        let targets_of = |pod: &str| -> Vec<Target> {
            endpoint_targets(slices.iter().map(|s| &s.slice), &port_name, family)
                .filter(|(ep, _)| endpoint_pod(ep) == Some(pod))
                .map(|(_, t)| t)
                .collect()
        };
        update_gates(ctx, &ns, &gate, &waiting, &current, targets_of).await;
    }
    // Targets of a group no load balancer uses report `unused`: no health check will ever run.
    let not_in_use = !current.is_empty() && current.iter().all(|t| t.state == tgbind_aws::HealthState::Unused);
    Ok(Synced {
        target_group_arn: arn,
        desired: desired.len(),
        registered: desired.len(),
        healthy: healthy_count(&current, &desired),
        not_in_use,
    })
}

/// The binding's key among the security-group needs.
fn binding_key(tgb: &TargetGroupBinding) -> String {
    format!("{}/{}", tgb.namespace().unwrap_or_default(), tgb.name_any())
}

fn wants_rules(tgb: &TargetGroupBinding) -> bool {
    tgb.spec.networking.as_ref().is_some_and(|n| !n.ingress.is_empty())
}

/// Rules nobody needs are revoked only once the needs of every other live binding with
/// `networking` are known (after a restart, each must have synced once).
fn others_known(ctx: &Context, rules: &SecurityGroupRules, me: &str) -> bool {
    ctx.bindings
        .state()
        .iter()
        .filter(|b| b.meta().deletion_timestamp.is_none() && wants_rules(b))
        .map(|b| binding_key(b))
        .filter(|key| key != me)
        .all(|key| rules.knows(&key))
}

fn networking_problem(e: NetworkingError) -> Problem {
    let reason = match &e {
        NetworkingError::Unresolved(_) => "SecurityGroupNotResolved",
        _ => "SecurityGroupRulesFailed",
    };
    Problem::new(reason, format!("spec.networking: {e}; targets are registered"), Retry::Backoff)
}

/// Ingress rules for `spec.networking` on the security groups of the desired targets (after the
/// targets are written: a failure here never holds registration back).
async fn sync_networking(
    tgb: &TargetGroupBinding,
    ctx: &Context,
    desired: &BTreeSet<Target>,
    slices: &[Arc<EndpointSliceObject>],
) -> Result<(), Problem> {
    let key = binding_key(tgb);
    let Some(rules) = &ctx.networking else {
        return match wants_rules(tgb) {
            true => Err(Problem::new(
                "NetworkingUnavailable",
                "spec.networking is set but this controller has no EC2 access",
                Retry::OnChange,
            )),
            false => Ok(()),
        };
    };
    // A binding that never asked for rules costs nothing; one that stopped asking drops its needs.
    if !wants_rules(tgb) && !rules.knows(&key) {
        return Ok(());
    }
    let permissions = match &tgb.spec.networking {
        Some(networking) if !desired.is_empty() => {
            let names = network_rules::named_ports(networking);
            let ports = if names.is_empty() {
                Default::default()
            } else {
                container_ports(ctx, &key, &tgb.namespace().unwrap_or_default(), slices, &names).await
            };
            network_rules::permissions(networking, |name| ports.get(name).cloned().unwrap_or_default())
                .map_err(|e| Problem::new("PortNotFound", e, Retry::Backoff))?
        }
        _ => BTreeSet::new(),
    };
    let targets: BTreeSet<String> = desired.iter().map(|t| t.id.clone()).collect();
    let may_revoke = others_known(ctx, rules, &key);
    rules
        .sync(
            &key,
            tgb.target_type(),
            tgb.spec.vpc_id.as_deref(),
            &targets,
            permissions,
            may_revoke,
        )
        .await
        .map_err(networking_problem)
}

/// Container port numbers by name, over the pods behind the Service's endpoints (used only when a
/// rule names a port). A pod's container ports never change, so each pod is read once while it
/// backs the binding: the cache is keyed by pod name and address and pruned to the current ones.
async fn container_ports(
    ctx: &Context,
    binding: &str,
    ns: &str,
    slices: &[Arc<EndpointSliceObject>],
    names: &BTreeSet<String>,
) -> std::collections::BTreeMap<String, BTreeSet<i32>> {
    let backing: BTreeSet<(String, String)> = slices
        .iter()
        .flat_map(|s| &s.slice.endpoints)
        .filter(|ep| ep.conditions.terminating != Some(true))
        .filter_map(|ep| Some((endpoint_pod(ep)?.to_string(), ep.addresses.first()?.clone())))
        .collect();
    let mut known: HashMap<(String, String), Vec<(String, i32)>> = {
        let cache = ctx.named_ports.lock().unwrap();
        let cached = cache.get(binding);
        backing
            .iter()
            .filter_map(|key| Some((key.clone(), cached?.get(key)?.clone())))
            .collect()
    };
    let missing: Vec<(String, String)> = backing.iter().filter(|k| !known.contains_key(*k)).cloned().collect();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let reads = futures::future::join_all(missing.into_iter().map(|key| {
        let pods = pods.clone();
        async move { (pods.get_opt(&key.0).await, key) }
    }))
    .await;
    for (read, key) in reads {
        // A pod that cannot be read now is read again next time.
        let Ok(Some(pod)) = read else { continue };
        let containers = pod.spec.iter().flat_map(|s| &s.containers);
        let ports = containers
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| Some((p.name.clone()?, p.container_port)))
            .collect();
        known.insert(key, ports);
    }
    let mut out: std::collections::BTreeMap<String, BTreeSet<i32>> = Default::default();
    for (name, number) in known.values().flatten() {
        if names.contains(name) {
            out.entry(name.clone()).or_default().insert(*number);
        }
    }
    ctx.named_ports.lock().unwrap().insert(binding.to_string(), known);
    out
}

/// Pods behind not-ready endpoints that wait only for `gate` (read on demand: only endpoints in
/// the middle of a rollout cost a request; a pod that cannot be read is left out).
async fn pods_waiting_on_gate(ctx: &Context, ns: &str, slices: &[Arc<EndpointSliceObject>], gate: &str) -> Vec<Pod> {
    let names: BTreeSet<&str> = slices
        .iter()
        .flat_map(|s| &s.slice.endpoints)
        .filter(|ep| ep.conditions.ready == Some(false) && ep.conditions.terminating != Some(true))
        .filter_map(endpoint_pod)
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let reads = names.into_iter().map(|name| {
        let pods = pods.clone();
        async move { pods.get_opt(name).await }
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .filter_map(|r| match r {
            Ok(pod) => pod,
            Err(e) => {
                warn!(error = %e, "could not read a pod behind a not-ready endpoint");
                None
            }
        })
        .filter(|pod| waits_only_on_gate(pod, gate))
        .collect()
}

/// Sets each waiting pod's gate condition from its target's health (`current`, read before this
/// reconcile's writes: a target registered just now reads as no data yet, Unknown).
async fn update_gates(
    ctx: &Context,
    ns: &str,
    gate: &str,
    waiting: &[Pod],
    current: &[tgbind_aws::TargetHealth],
    targets_of: impl Fn(&str) -> Vec<Target>,
) {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let updates: Vec<(String, GateCondition)> = waiting
        .iter()
        .filter_map(|pod| {
            let name = pod.metadata.name.clone().unwrap_or_default();
            // With several addresses (dual-stack), the least healthy decides.
            let wanted = targets_of(&name)
                .iter()
                .map(|t| condition_for(current.iter().find(|h| &h.target == t)))
                .min_by_key(|c| match c.status {
                    "True" => 2,
                    "Unknown" => 1,
                    _ => 0,
                })
                .unwrap_or_else(|| condition_for(None));
            needs_update(pod, gate, &wanted).then_some((name, wanted))
        })
        .collect();
    // Written concurrently: in a large rollout, pods must not wait for each other's patches.
    futures::stream::iter(updates)
        .for_each_concurrent(GATE_WRITES_IN_FLIGHT, |(name, wanted): (String, GateCondition)| {
            let pods = pods.clone();
            async move {
                let patch = serde_json::json!({ "status": { "conditions": [{
                    "type": gate,
                    "status": wanted.status,
                    "reason": wanted.reason,
                    "message": wanted.message,
                    "lastTransitionTime": Time(k8s_openapi::jiff::Timestamp::now()),
                }]}});
                match pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(_) => {
                        ctx.metrics.readiness_gate_updates.inc();
                        info!(pod = %name, status = wanted.status, reason = %wanted.reason, "readiness gate updated");
                    }
                    Err(e) => warn!(pod = %name, error = %e, "could not update the readiness gate"),
                }
            }
        })
        .await;
}

/// A log line and a Normal event for targets written.
async fn announce(ctx: &Context, reference: &k8s_openapi::api::core::v1::ObjectReference, reason: &str, verb: &str, targets: &[Target]) {
    let listed = summary(targets);
    info!(count = targets.len(), targets = %listed, "{verb} targets");
    publish(
        ctx,
        reference,
        EventType::Normal,
        reason,
        &format!("{verb} {} target(s): {listed}", targets.len()),
    )
    .await;
}

fn summary(targets: &[Target]) -> String {
    let shown: Vec<String> = targets.iter().take(10).map(Target::to_string).collect();
    if targets.len() > shown.len() {
        format!("{} and {} more", shown.join(", "), targets.len() - shown.len())
    } else {
        shown.join(", ")
    }
}

/// On delete: take this binding's targets out of the group, then let the finalizer go. A group that
/// no longer exists has nothing to clean.
#[instrument(skip_all, fields(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default()))]
async fn cleanup(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Action, Error> {
    let recorded = tgb
        .status
        .as_ref()
        .and_then(|s: &TargetGroupBindingStatus| s.target_group_arn.clone());
    let Some(arn) = recorded.or_else(|| tgb.spec.target_group_arn.clone()) else {
        return Ok(Action::await_change());
    };
    // A binding that never synced (invalid, unsupported) or whose group another binding holds must
    // not empty the group.
    let synced_once = tgb.status.as_ref().is_some_and(|s| s.registered_targets.is_some());
    let owned = synced_once && ready_reason(tgb.status.as_ref()) != Some("TargetGroupAlreadyBound");
    if !owned || arn_problem(&arn).is_some() {
        return Ok(Action::await_change());
    }
    let current = match ctx.aws.describe_target_health(&arn).await {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::NotFound => {
            forget_networking(tgb, ctx, &[]).await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };
    // A shared group keeps the other clusters' targets: only ours (per the record) leave.
    let multi = ownership::is_multi_cluster(tgb);
    let mine = if multi {
        Some(ownership::read(&ctx.client, tgb).await?)
    } else {
        None
    };
    let targets: Vec<Target> = registered(&current)
        .into_iter()
        .filter(|t| mine.as_ref().is_none_or(|m| m.contains(t)))
        .collect();
    if !targets.is_empty() {
        match ctx.aws.deregister_targets(&arn, &targets).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ctx.metrics.targets_deregistered.inc_by(targets.len() as u64);
        info!(count = targets.len(), "deregistered the targets of a deleted binding");
    }
    forget_networking(tgb, ctx, &targets).await?;
    if multi {
        ownership::delete(&ctx.client, tgb).await?;
    }
    Ok(Action::await_change())
}

/// A deleted binding's rules leave the groups no other binding needs them on. Until every other
/// binding's needs are known (just after a restart) the finalizer stays and this is retried.
async fn forget_networking(tgb: &TargetGroupBinding, ctx: &Context, registered: &[Target]) -> Result<(), Error> {
    let key = binding_key(tgb);
    ctx.named_ports.lock().unwrap().remove(&key);
    let Some(rules) = &ctx.networking else { return Ok(()) };
    if !wants_rules(tgb) && !rules.knows(&key) {
        return Ok(());
    }
    let targets: BTreeSet<String> = registered.iter().map(|t| t.id.clone()).collect();
    let may_revoke = others_known(ctx, rules, &key);
    rules
        .forget(&key, tgb.target_type(), tgb.spec.vpc_id.as_deref(), &targets, may_revoke)
        .await
        .map_err(|e| Error::Networking(e.to_string()))
}
