//! The glue between a binding and `spec.networking`: the security-group rules its targets need
//! (EC2 writes happen in `crate::networking`), named ports read from the pods, and forgetting a
//! deleted binding's rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use tgbind_aws::Target;

use crate::context::{Context, Error};
use crate::crd::{TargetGroupBinding, TargetType};
use crate::desired::endpoint_pod;
use crate::endpoints::EndpointSliceObject;
use crate::networking::{rules as network_rules, NetworkingError, SecurityGroupRules};
use crate::status::{Problem, Retry};

/// The binding's key among the security-group needs.
pub(super) fn binding_key(tgb: &TargetGroupBinding) -> String {
    format!("{}/{}", tgb.namespace().unwrap_or_default(), tgb.name_any())
}

pub(super) fn wants_rules(tgb: &TargetGroupBinding) -> bool {
    tgb.spec.networking.as_ref().is_some_and(|n| !n.ingress.is_empty())
}

/// Rules nobody needs are revoked only once the needs of every other live binding with
/// `networking` are known (after a restart, each must have synced once).
pub(super) fn others_known(ctx: &Context, rules: &SecurityGroupRules, me: &str) -> bool {
    ctx.bindings
        .state()
        .iter()
        .filter(|b| b.meta().deletion_timestamp.is_none() && wants_rules(b))
        .map(|b| binding_key(b))
        .filter(|key| key != me)
        .all(|key| rules.knows(&key))
}

pub(super) fn networking_problem(e: NetworkingError) -> Problem {
    let reason = match &e {
        NetworkingError::Unresolved(_) => "SecurityGroupNotResolved",
        _ => "SecurityGroupRulesFailed",
    };
    Problem::new(reason, format!("spec.networking: {e}; targets are registered"), Retry::Backoff)
}

/// Ingress rules for `spec.networking` on the security groups of the desired targets (after the
/// targets are written: a failure here never holds registration back).
pub(super) async fn sync_networking(
    tgb: &TargetGroupBinding,
    ctx: &Context,
    target_type: TargetType,
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
    rules
        .sync(&key, target_type, tgb.spec.vpc_id.as_deref(), &targets, permissions, || {
            others_known(ctx, rules, &key)
        })
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
) -> BTreeMap<String, BTreeSet<i32>> {
    let backing: BTreeSet<(String, String)> = slices
        .iter()
        .flat_map(|s| &s.slice.endpoints)
        .filter(|ep| ep.conditions.terminating != Some(true))
        .filter_map(|ep| Some((endpoint_pod(ep)?.to_string(), ep.addresses.iter().next()?.to_string())))
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
    let mut out: BTreeMap<String, BTreeSet<i32>> = Default::default();
    for (name, number) in known.values().flatten() {
        if names.contains(name) {
            out.entry(name.clone()).or_default().insert(*number);
        }
    }
    ctx.named_ports.lock().unwrap().insert(binding.to_string(), known);
    out
}

/// A deleted binding's rules leave the groups no other binding needs them on. Until every other
/// binding's needs are known (just after a restart) the finalizer stays and this is retried.
pub(super) async fn forget_networking(
    tgb: &TargetGroupBinding,
    ctx: &Context,
    target_type: TargetType,
    registered: &[Target],
) -> Result<(), Error> {
    let key = binding_key(tgb);
    ctx.named_ports.lock().unwrap().remove(&key);
    let Some(rules) = &ctx.networking else { return Ok(()) };
    if !wants_rules(tgb) && !rules.knows(&key) {
        return Ok(());
    }
    let targets: BTreeSet<String> = registered.iter().map(|t| t.id.clone()).collect();
    rules
        .forget(&key, target_type, tgb.spec.vpc_id.as_deref(), &targets, || {
            others_known(ctx, rules, &key)
        })
        .await
        .map_err(Error::from)
}
