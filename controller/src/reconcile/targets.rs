//! The sync of one binding's targets: the targets the cluster wants (from the watch caches), the
//! targets the group holds, and the ELB writes between them, with the multi-cluster ownership
//! record kept around the writes. Readiness gates and security-group rules follow the writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tgbind_aws::Target;

use super::{gates, networking, report};
use crate::context::Context;
use crate::crd::{IpAddressType, TargetGroupBinding, TargetType};
use crate::desired::{
    endpoint_pod, endpoint_targets, healthy_count, instance_targets, ip_targets, plan_changes, plan_owned_changes, resolve_node_port,
    resolve_service_port,
};
use crate::endpoints::EndpointSliceObject;
use crate::index::service_key;
use crate::ownership;
use crate::readiness::gate_type;
use crate::status::{Problem, Retry, Synced};
use crate::validation::check_spec;

/// The other bindings of the same target group ARN, from the index.
fn same_group(tgb: &TargetGroupBinding, ctx: &Context) -> Vec<Arc<TargetGroupBinding>> {
    let Some(arn) = &tgb.spec.target_group_arn else { return Vec::new() };
    ctx.bindings_by_arn
        .get(arn)
        .into_iter()
        .filter_map(|(ns, name)| ctx.bindings.get(&ObjectRef::new(&name).within(&ns)))
        .collect()
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
        Err(e) => Err(report::aws_problem(e, &name)),
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

pub(super) async fn sync(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Synced, Problem> {
    // Never decide from half-filled caches: an empty slice cache would read as "no endpoints".
    let _ = ctx.services.wait_until_ready().await;
    let _ = ctx.slices.wait_until_ready().await;
    check_spec(tgb, &same_group(tgb, ctx))?;
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
            let waiting = gates::pods_waiting_on_gate(ctx, &ns, &slices, &gate).await;
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
    let current = ctx
        .aws
        .describe_target_health(&arn)
        .await
        .map_err(|e| report::aws_problem(e, &arn))?;
    // In a group shared with other clusters, only what our record names is ours to remove.
    let owned = if ownership::is_multi_cluster(tgb) {
        Some(ownership::read(&ctx.client, tgb).await.map_err(report::record_problem)?)
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
            ownership::write(&ctx.client, tgb, &grown).await.map_err(report::record_problem)?;
        }
    }
    if !changes.deregister.is_empty() {
        ctx.aws
            .deregister_targets(&arn, &changes.deregister)
            .await
            .map_err(|e| report::aws_problem(e, &arn))?;
        ctx.metrics.targets_deregistered.inc_by(changes.deregister.len() as u64);
        report::announce(ctx, &reference, "TargetsDeregistered", "deregistered", &changes.deregister).await;
    }
    if !changes.register.is_empty() {
        ctx.aws
            .register_targets(&arn, &changes.register)
            .await
            .map_err(|e| report::aws_problem(e, &arn))?;
        ctx.metrics.targets_registered.inc_by(changes.register.len() as u64);
        report::announce(ctx, &reference, "TargetsRegistered", "registered", &changes.register).await;
    }
    if let Some(owned) = &owned {
        // Everything desired is registered now and nothing else of ours is: the record shrinks to it.
        let grown: BTreeSet<Target> = owned.iter().chain(&changes.register).cloned().collect();
        if grown != desired {
            ownership::write(&ctx.client, tgb, &desired).await.map_err(report::record_problem)?;
        }
    }
    networking::sync_networking(tgb, ctx, &desired, &slices).await?;
    if !waiting.is_empty() {
        let targets_of = |pod: &str| -> Vec<Target> {
            endpoint_targets(slices.iter().map(|s| &s.slice), &port_name, family)
                .filter(|(ep, _)| endpoint_pod(ep) == Some(pod))
                .map(|(_, t)| t)
                .collect()
        };
        gates::update_gates(ctx, &ns, &gate, &waiting, &current, targets_of).await;
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
