//! Pod readiness gates (`target-health.elbv2.k8s.aws/<binding>`): which pods wait on this
//! binding's gate, and their gate conditions written from their targets' health.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use tgbind_aws::Target;
use tracing::{info, warn};

use crate::context::Context;
use crate::desired::endpoint_pod;
use crate::endpoints::EndpointSliceObject;
use crate::readiness::{condition_for, needs_update, waits_only_on_gate, GateCondition};

/// Pod condition writes in flight at once for one binding.
const GATE_WRITES_IN_FLIGHT: usize = 16;

/// Pods behind not-ready endpoints that wait only for `gate` (read on demand: only endpoints in
/// the middle of a rollout cost a request; a pod that cannot be read is left out).
pub(super) async fn pods_waiting_on_gate(ctx: &Context, ns: &str, slices: &[Arc<EndpointSliceObject>], gate: &str) -> Vec<Pod> {
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
pub(super) async fn update_gates(
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
                if write_gate(&pods, &name, gate, &wanted).await {
                    ctx.metrics.readiness_gate_updates.inc();
                }
            }
        })
        .await;
}

/// Writes one pod's gate condition; whether it was written.
async fn write_gate(pods: &Api<Pod>, name: &str, gate: &str, wanted: &GateCondition) -> bool {
    let patch = serde_json::json!({ "status": { "conditions": [{
        "type": gate,
        "status": wanted.status,
        "reason": wanted.reason,
        "message": wanted.message,
        "lastTransitionTime": Time(k8s_openapi::jiff::Timestamp::now()),
    }]}});
    match pods.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch)).await {
        Ok(_) => {
            info!(pod = %name, status = wanted.status, reason = %wanted.reason, "readiness gate updated");
            true
        }
        Err(e) => {
            warn!(pod = %name, error = %e, "could not update the readiness gate");
            false
        }
    }
}

/// When a binding is deleted, the pods that carry its readiness gate would never become Ready:
/// their gate condition turns True (as the AWS Load Balancer Controller does). Best effort: a pod
/// that cannot be read or written is logged and left.
pub(super) async fn release_gates(ctx: &Context, tgb: &crate::crd::TargetGroupBinding) {
    use kube::ResourceExt;
    let ns = tgb.namespace().unwrap_or_default();
    let gate = crate::readiness::gate_type(&tgb.name_any());
    let key = crate::index::service_key(&ns, &tgb.spec.service_ref.name);
    let names: BTreeSet<String> = ctx
        .slices_by_service
        .get(&key)
        .into_iter()
        .filter_map(|(sns, name)| {
            ctx.slices
                .get(&kube::runtime::reflector::ObjectRef::new_with(&name, ctx.slice_resource.clone()).within(&sns))
        })
        .flat_map(|s| {
            s.slice
                .endpoints
                .iter()
                .filter_map(|ep| endpoint_pod(ep).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let released = GateCondition {
        status: "True",
        reason: "TargetGroupBindingDeleted".to_string(),
        message: format!(
            "TargetGroupBinding {} was deleted; this gate no longer waits for target health",
            tgb.name_any()
        ),
    };
    futures::stream::iter(names)
        .for_each_concurrent(GATE_WRITES_IN_FLIGHT, |name| {
            let (pods, gate, released) = (pods.clone(), gate.clone(), released.clone());
            async move {
                let pod = match pods.get_opt(&name).await {
                    Ok(Some(pod)) => pod,
                    Ok(None) => return,
                    Err(e) => {
                        warn!(pod = %name, error = %e, "could not read a pod to release its readiness gate");
                        return;
                    }
                };
                let has_gate = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.readiness_gates.as_ref())
                    .is_some_and(|gates| gates.iter().any(|g| g.condition_type == gate));
                if has_gate && needs_update(&pod, &gate, &released) {
                    write_gate(&pods, &name, &gate, &released).await;
                }
            }
        })
        .await;
}
