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
