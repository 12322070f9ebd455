//! The sync of one binding's targets: its checks (see `validation`), the group it names and the
//! settings in effect, the targets the cluster wants (from the watch caches), the targets the group
//! holds, and the ELB writes between them, with the multi-cluster ownership record kept around the
//! writes. Readiness gates follow the writes, then security-group rules, whose failures never hold
//! back registration or gates.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use rand::Rng;
use tgbind_aws::{ErrorKind, Registration, Target, TargetGroupFacts, TargetHealth};

use super::{gates, group, networking, report};
use crate::aws::{AssumedRole, TargetGroupApi};
use crate::bound;
use crate::budget::{self, Priority};
use crate::context::{BindingMemory, Context};
use crate::crd::{IpAddressType, TargetGroupBinding, TargetGroupBindingStatus, TargetType};
use crate::desired::{
    endpoint_pod, endpoint_targets, healthy_count, instance_targets, ip_targets, plan_changes, plan_owned_changes, registrations,
    resolve_node_port, resolve_service_port,
};
use crate::endpoints::EndpointSliceObject;
use crate::index::service_key;
use crate::ownership;
use crate::readiness::gate_type;
use crate::status::{Problem, Retry, Synced};
use crate::synced;
use crate::validation::{check_bound, check_form, effective, older_binding, Effective};

/// The other bindings of a target group, from the index (by their spec's ARN or the group they
/// are bound to).
fn same_group(ctx: &Context, arn: &str) -> Vec<Arc<TargetGroupBinding>> {
    ctx.bindings_by_arn
        .get(arn)
        .into_iter()
        .filter_map(|(ns, name)| ctx.bindings.get(&ObjectRef::new(&name).within(&ns)))
        .collect()
}

/// The Service's EndpointSlices, found through the index and shared from the watch cache.
fn slices_of(ctx: &Context, namespace: &str, service: &str) -> Vec<Arc<EndpointSliceObject>> {
    ctx.slices_by_service
        .get(&service_key(namespace, service))
        .into_iter()
        .filter_map(|(ns, name)| ctx.slices.get(&ObjectRef::new_with(&name, ctx.slice_resource.clone()).within(&ns)))
        .collect()
}

/// Why a sync stopped short.
pub(super) enum Stop {
    /// Reported in status and events, retried by its `Retry`.
    Problem(Problem),
    /// Nothing new to write, and as many reconciles as may verify at once already do (see
    /// `Context::verifying`): this one comes back after the duration given instead of holding a
    /// worker while it waits for the API budget. Nothing is reported.
    Deferred(Duration),
    /// The binding changed since this reconcile read it (a write found a newer resourceVersion):
    /// the reconcile runs again soon with the version the watch brings. Nothing is reported.
    Stale,
}

impl From<Problem> for Stop {
    fn from(p: Problem) -> Self {
        Stop::Problem(p)
    }
}

impl From<group::RecordWrite> for Stop {
    fn from(w: group::RecordWrite) -> Self {
        match w {
            group::RecordWrite::Stale => Stop::Stale,
            group::RecordWrite::Failed(p) => Stop::Problem(p),
        }
    }
}

/// The group a binding may write to, its account and the settings in effect, once its checks pass.
struct Checked {
    role: Option<AssumedRole>,
    aws: Arc<dyn TargetGroupApi>,
    group: TargetGroupFacts,
    effective: Effective,
}

/// The binding's checks and the group it names: everything before its first write.
async fn check(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Checked, Stop> {
    check_form(tgb)?;
    let bound = bound::read(tgb);
    if let Some(b) = &bound {
        check_bound(tgb, b)?;
    }
    let role = group::assumed_role(tgb);
    let aws = ctx.accounts.for_role(role.as_ref()).await;
    let group = group::facts(ctx, aws.as_ref(), tgb, bound.as_ref(), role.as_ref()).await?;
    let effective = effective(tgb, &group)?;
    if let Err(p) = older_binding(tgb, &group.arn, &same_group(ctx, &group.arn)) {
        // An older binding has the group: this one no longer answers for its targets.
        if bound.is_some() {
            group::write_record(ctx, tgb, None, false).await?;
        }
        return Err(p.into());
    }
    Ok(Checked {
        role,
        aws,
        group,
        effective,
    })
}

pub(super) async fn sync(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Synced, Stop> {
    // Never decide from half-filled caches: an empty slice cache would read as "no endpoints".
    ctx.caches.endpoints().await;
    let Checked {
        role,
        aws,
        group,
        effective,
    } = match check(tgb, ctx).await {
        Ok(checked) => checked,
        // Refused before its record (which brings the finalizer) is written, a binding still
        // needs the finalizer: pods may wait on its readiness gate, and its deletion releases them.
        Err(Stop::Problem(p)) if !group::has_finalizer(tgb) => {
            group::write_finalizer(ctx, tgb).await?;
            return Err(p.into());
        }
        Err(stop) => return Err(stop),
    };
    let arn = group.arn.clone();
    // Recorded before the first write, so a deletion (or an edit of the spec) always finds the
    // group this binding wrote to, whatever the CRD prunes from status. The finalizer comes with
    // it when missing, so the cleanup runs whatever the binding's end.
    let record = group::record(tgb, &group, &effective);
    let recorded = tgb.metadata.annotations.as_ref().and_then(|a| a.get(bound::ANNOTATION));
    let add_finalizer = !group::has_finalizer(tgb);
    if add_finalizer || recorded.map(String::as_str) != Some(bound::format(&record).as_str()) {
        group::write_record(ctx, tgb, Some(&record), add_finalizer).await?;
    }

    let Wanted {
        desired,
        slices,
        port_name,
        waiting,
    } = wanted(ctx, tgb, effective.target_type, effective.ip_address_type).await?;
    let family = effective.ip_address_type;

    // Nothing new to write since the last sync: this reconcile only verifies, and lets changes of
    // other bindings go first in the API budget.
    let targets_digest = synced::digest(&arn, &desired);
    let synced = ctx
        .memory
        .lock()
        .unwrap()
        .get(&tgb.uid().unwrap_or_default())
        .and_then(|m| m.synced_targets);
    let _verifying = if synced == Some(targets_digest) {
        budget::set_priority(Priority::Verify);
        match ctx.verifying.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return Err(Stop::Deferred(Duration::from_millis(rand::rng().random_range(100..300)))),
        }
    } else {
        None
    };
    // A binding no controller has reported on yet (new, or a first start) has, almost always,
    // every target still to register: it registers them without reading first, and its first read
    // is the health recheck that follows (a read right after the write would find the targets
    // `initial` anyway). One call instead of two before the targets are in, and changes of other
    // bindings still go first. It only registers, so nothing is removed on a guess: a target it
    // does not want goes at that recheck. A shared (multi-cluster) group keeps the read-first
    // path, which grows its ownership record before writing.
    let multi_cluster = ownership::is_multi_cluster(tgb);
    let reference = tgb.object_ref(&());
    let first_report = never_reported(tgb.status.as_ref(), ctx.memory.lock().unwrap().get(&tgb.uid().unwrap_or_default()));
    if !multi_cluster && first_report && !desired.is_empty() {
        if synced::read(tgb).is_some() {
            report::write_settled(ctx, tgb, None).await?;
        }
        let targets: Vec<Target> = desired.iter().cloned().collect();
        register(ctx, aws.as_ref(), &effective, &arn, role.as_ref(), &reference, &targets).await?;
        // No health known yet: pods waiting on the gate learn that their targets are registered.
        update_gates(ctx, tgb, &waiting, &slices, &port_name, family, &[]).await;
        networking::sync_networking(tgb, ctx, effective.target_type, &desired, &slices).await?;
        return Ok(Synced {
            target_group_arn: arn,
            desired: desired.len(),
            registered: desired.len(),
            // Not read yet: unsettled, so the health recheck comes.
            healthy: 0,
            not_in_use: false,
            effective: Some(effective),
            targets_digest,
            wrote: true,
        });
    }
    let current = match aws.describe_target_health(&arn).await {
        Ok(current) => current,
        Err(e) => {
            if e.kind == ErrorKind::NotFound {
                group::forget(ctx, &arn);
            }
            return Err(group::problem(e, role.as_ref(), &arn).into());
        }
    };
    // In a group shared with other clusters, only what our record names is ours to remove.
    let owned = if multi_cluster {
        Some(ownership::read(&ctx.client, tgb).await.map_err(report::record_problem)?)
    } else {
        None
    };
    let changes = match &owned {
        Some(owned) => plan_owned_changes(&desired, &current, owned),
        None => plan_changes(&desired, &current),
    };
    if let Some(owned) = &owned {
        // The record grows before RegisterTargets: a crash in between leaves a record naming a
        // target that is not registered (harmless), never a registered target nobody owns.
        let grown: BTreeSet<Target> = owned.iter().chain(&changes.register).cloned().collect();
        if &grown != owned {
            ownership::write(&ctx.client, tgb, &grown).await.map_err(report::record_problem)?;
        }
    }
    // A record of the last settled sync stops being true with the first write: it goes first, so a
    // controller killed before the new record is written never trusts the old one after a restart.
    let writes_coming = !changes.deregister.is_empty() || !changes.register.is_empty();
    if writes_coming && synced::read(tgb).is_some() {
        report::write_settled(ctx, tgb, None).await?;
    }
    if !changes.deregister.is_empty() {
        aws.deregister_targets(&arn, &changes.deregister)
            .await
            .map_err(|e| group::problem(e, role.as_ref(), &arn))?;
        ctx.metrics.targets_deregistered.inc_by(changes.deregister.len() as u64);
        report::announce(ctx, &reference, "TargetsDeregistered", "deregistered", &changes.deregister).await;
    }
    if !changes.register.is_empty() {
        register(ctx, aws.as_ref(), &effective, &arn, role.as_ref(), &reference, &changes.register).await?;
    }
    if let Some(owned) = &owned {
        // Everything desired is registered now and nothing else of ours is: the record shrinks to it.
        let grown: BTreeSet<Target> = owned.iter().chain(&changes.register).cloned().collect();
        if grown != desired {
            ownership::write(&ctx.client, tgb, &desired).await.map_err(report::record_problem)?;
        }
    }
    // Readiness gates before security-group rules: a rule EC2 refuses (or an interface not found
    // yet) must never keep a pod from becoming Ready.
    update_gates(ctx, tgb, &waiting, &slices, &port_name, family, &current).await;
    networking::sync_networking(tgb, ctx, effective.target_type, &desired, &slices).await?;
    // Targets of a group no load balancer uses report `unused`: no health check will ever run.
    let not_in_use = !current.is_empty() && current.iter().all(|t| t.state == tgbind_aws::HealthState::Unused);
    Ok(Synced {
        target_group_arn: arn,
        desired: desired.len(),
        registered: desired.len(),
        healthy: healthy_count(&current, &desired),
        not_in_use,
        effective: Some(effective),
        targets_digest,
        wrote: writes_coming,
    })
}

/// The readiness gates of the pods waiting on this binding's gate, from the group's health.
async fn update_gates(
    ctx: &Context,
    tgb: &TargetGroupBinding,
    waiting: &[Pod],
    slices: &[Arc<EndpointSliceObject>],
    port_name: &str,
    family: IpAddressType,
    current: &[TargetHealth],
) {
    if waiting.is_empty() {
        return;
    }
    let targets_of = |pod: &str| -> Vec<Target> {
        endpoint_targets(slices.iter().map(|s| &s.slice), port_name, family)
            .filter(|(ep, _)| endpoint_pod(ep) == Some(pod))
            .map(|(_, t)| t)
            .collect()
    };
    let ns = tgb.namespace().unwrap_or_default();
    gates::update_gates(ctx, &ns, &gate_type(&tgb.name_any()), waiting, current, targets_of).await;
}

/// No controller has reported on this binding yet: no status generation (the LBC writes one too),
/// and no sync of it in this process (`memory`). The second half matters while the watch lags
/// behind this process's own writes (a busy first start): a copy without the status just written
/// must not register everything again.
fn never_reported(status: Option<&TargetGroupBindingStatus>, memory: Option<&BindingMemory>) -> bool {
    let synced_here = memory.is_some_and(|m| m.synced_targets.is_some());
    status.and_then(|s| s.observed_generation).is_none() && !synced_here
}

/// Registers `targets` in the group and says so (metric, event).
async fn register(
    ctx: &Context,
    aws: &dyn TargetGroupApi,
    effective: &Effective,
    arn: &str,
    role: Option<&AssumedRole>,
    reference: &ObjectReference,
    targets: &[Target],
) -> Result<(), Problem> {
    // IP targets outside the group's VPC (a peered VPC, another account) need zone `all`.
    let vpc = match (effective.target_type, &effective.vpc_id) {
        (TargetType::Ip, Some(vpc)) => Some(group::vpc_cidrs(ctx, aws, vpc, role).await?),
        _ => None,
    };
    let writes: Vec<Registration> = registrations(targets, vpc.as_ref());
    aws.register_targets(arn, &writes).await.map_err(|e| group::problem(e, role, arn))?;
    ctx.metrics.targets_registered.inc_by(targets.len() as u64);
    report::announce(ctx, reference, "TargetsRegistered", "registered", targets).await;
    Ok(())
}

/// What the cluster wants a binding's group to hold, and what the readiness gates need to know.
struct Wanted {
    desired: BTreeSet<Target>,
    slices: Vec<Arc<EndpointSliceObject>>,
    port_name: String,
    /// Pods that are not Ready only because they wait for this binding's readiness gate.
    waiting: Vec<Pod>,
}

/// The targets the cluster wants, from the watch caches: ready endpoints for `ip`, eligible nodes
/// at the Service's NodePort for `instance`.
async fn wanted(ctx: &Context, tgb: &TargetGroupBinding, target_type: TargetType, family: IpAddressType) -> Result<Wanted, Problem> {
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
    Ok(match target_type {
        TargetType::Ip => {
            let port_name = resolve_service_port(&service, &tgb.spec.service_ref.port).map_err(port_problem)?;
            let slices = slices_of(ctx, &ns, svc_name);
            // Pods that are not Ready only because they wait for this binding's readiness gate:
            // their endpoints are registered too, or the gate could never pass.
            let waiting = gates::pods_waiting_on_gate(ctx, &ns, &slices, &gate_type(&tgb.name_any())).await;
            let gated: BTreeSet<String> = waiting.iter().filter_map(|p| p.metadata.name.clone()).collect();
            let desired = ip_targets(slices.iter().map(|s| &s.slice), &port_name, family, &gated);
            Wanted {
                desired,
                slices,
                port_name,
                waiting,
            }
        }
        TargetType::Instance => {
            // Every eligible node at the Service's NodePort; never from a half-filled node cache.
            let node_port = resolve_node_port(&service, &tgb.spec.service_ref.port).map_err(port_problem)?;
            ctx.caches.nodes().await;
            let nodes = ctx.nodes.state();
            let desired = instance_targets(nodes.iter().map(|n| n.as_ref()), tgb.spec.node_selector.as_ref(), node_port);
            Wanted {
                desired,
                slices: Vec::new(),
                port_name: String::new(),
                waiting: Vec::new(),
            }
        }
    })
}

/// A reconcile that needs no AWS call, and when to look next.
pub(super) enum Skip {
    /// The first reconcile in this process of a binding whose record (see `synced`) shows that
    /// nothing changed since it last settled: verified later by its spread resync.
    TrustedAtStart { digest: u64 },
    /// Woken by an event that changed nothing this binding wants since its last settled sync
    /// (a Service's labels, another binding's slice...): look again when its verification is due.
    Quiet { left: std::time::Duration },
}

/// Whether this reconcile can skip AWS (`None`: sync now).
pub(super) async fn skip(tgb: &TargetGroupBinding, ctx: &Context) -> Option<Skip> {
    // Without its finalizer a binding syncs, which adds it (see `sync`).
    if !group::has_finalizer(tgb) {
        return None;
    }
    let uid = tgb.uid()?;
    let generation = tgb.meta().generation;
    let memory = ctx.memory.lock().unwrap().get(&uid).cloned();
    let record = match &memory {
        None => Some(synced::read(tgb)?),
        Some(m) => {
            let quiet = m.quiet.filter(|q| q.generation == generation)?;
            quiet
                .until
                .checked_duration_since(std::time::Instant::now())
                .filter(|left| !left.is_zero())?;
            None
        }
    };
    let bound = bound::read(tgb)?;
    let target_type = bound::known_target_type(tgb)?;
    let family = match bound.ip_address_type.as_str() {
        "ipv4" => IpAddressType::Ipv4,
        "ipv6" => IpAddressType::Ipv6,
        _ => return None,
    };
    ctx.caches.endpoints().await;
    let wanted = wanted(ctx, tgb, target_type, family).await.ok()?;
    let digest = synced::digest(&bound.target_group_arn, &wanted.desired);
    match (memory, record) {
        (None, record) => synced::trusted(record, generation, digest).then_some(Skip::TrustedAtStart { digest }),
        (Some(m), _) => {
            let until = m.quiet?.until;
            (m.synced_targets == Some(digest)).then(|| Skip::Quiet {
                left: until.saturating_duration_since(std::time::Instant::now()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_is_reported_once_a_status_generation_or_a_sync_in_this_process_says_so() {
        let reported = TargetGroupBindingStatus {
            observed_generation: Some(1),
            ..Default::default()
        };
        let without_generation = TargetGroupBindingStatus::default();
        let failed_only = BindingMemory {
            failures: 2,
            ..Default::default()
        };
        let synced_here = BindingMemory {
            synced_targets: Some(7),
            ..Default::default()
        };
        assert!(never_reported(None, None));
        assert!(never_reported(Some(&without_generation), None));
        // Failures are no report: nothing was registered.
        assert!(never_reported(None, Some(&failed_only)));
        assert!(!never_reported(Some(&reported), None));
        // The watch lags behind this process's own status write: the sync here counts.
        assert!(!never_reported(None, Some(&synced_here)));
        assert!(!never_reported(Some(&without_generation), Some(&synced_here)));
    }
}
