//! The target group a binding names, as AWS describes it (cached: a group's target type, IP
//! address type, VPC and protocol never change), the CIDRs of its VPC (for registrations outside
//! it), and the record of what the binding is bound to, written before the first AWS write.

use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use tgbind_aws::{AwsError, ErrorKind, TargetGroupFacts};

use super::report;
use crate::aws::{AssumedRole, TargetGroupApi};
use crate::bound::{self, Bound};
use crate::context::Context;
use crate::crd::{TargetGroupBinding, FINALIZER};
use crate::desired::Cidr;
use crate::status::{Problem, Retry};
use crate::validation::Effective;

/// How long a VPC's CIDRs are trusted before they are read again (a CIDR can be associated later).
const VPC_CIDRS_TTL: Duration = Duration::from_secs(600);

/// The role a binding names, if any.
pub(super) fn assumed_role(tgb: &TargetGroupBinding) -> Option<AssumedRole> {
    let role = tgb.spec.iam_role_arn_to_assume.as_deref().filter(|r| !r.is_empty())?;
    Some(AssumedRole {
        role_arn: role.to_string(),
        external_id: tgb.spec.assume_role_external_id.clone().filter(|id| !id.is_empty()),
    })
}

/// A failure of the calls made with an assumed role's credentials, or of assuming the role itself
/// (STS refused: the calls never reached ELB).
pub(super) fn problem(e: AwsError, role: Option<&AssumedRole>, what: &str) -> Problem {
    match role {
        Some(r) if e.code == "transport" && e.message.to_lowercase().contains("credential") => Problem::new(
            "AssumeRoleFailed",
            format!("could not assume {} (sts:AssumeRole): {}", r.role_arn, e.message),
            Retry::Backoff,
        ),
        _ => report::aws_problem(e, what),
    }
}

/// The cache key of a group: its ARN, or for a name its account (the role) and name.
fn key(role: Option<&AssumedRole>, arn: Option<&str>, name: &str) -> String {
    match arn {
        Some(arn) => arn.to_string(),
        None => format!("{}|{name}", role.map_or("", |r| r.role_arn.as_str())),
    }
}

/// The group by the ARN the binding is bound to, else its spec's ARN, else its name.
pub(super) async fn facts(
    ctx: &Context,
    aws: &dyn TargetGroupApi,
    tgb: &TargetGroupBinding,
    bound: Option<&Bound>,
    role: Option<&AssumedRole>,
) -> Result<TargetGroupFacts, Problem> {
    let arn = bound
        .map(|b| b.target_group_arn.as_str())
        .or(tgb.spec.target_group_arn.as_deref().filter(|a| !a.is_empty()));
    let name = tgb.spec.target_group_name.clone().unwrap_or_default();
    let key = key(role, arn, &name);
    if let Some(known) = ctx.groups.lock().unwrap().get(&key) {
        return Ok(known.clone());
    }
    // A complete record of the bound group saves a DescribeTargetGroups per binding after a restart.
    if let Some(known) = bound.and_then(Bound::facts).filter(|f| Some(f.arn.as_str()) == arn) {
        ctx.groups.lock().unwrap().insert(key, known.clone());
        return Ok(known);
    }
    if role.is_none() && arn.is_some() {
        list_once(ctx, aws).await;
        if let Some(known) = ctx.groups.lock().unwrap().get(&key) {
            return Ok(known.clone());
        }
    }
    let what = arn.unwrap_or(&name).to_string();
    match aws.describe_target_group(arn, arn.is_none().then_some(name.as_str())).await {
        Ok(Some(group)) => {
            ctx.groups.lock().unwrap().insert(key, group.clone());
            Ok(group)
        }
        Ok(None) => Err(Problem::new(
            "TargetGroupNotFound",
            match arn {
                Some(arn) => format!("target group {arn} does not exist (deleted out of band?); registered targets are left as they are"),
                None => format!("no target group named {name:?}"),
            },
            Retry::Backoff,
        )),
        Err(e) => Err(problem(e, role, &what)),
    }
}

/// With this many bindings or more, the first group not known yet makes the controller list every
/// group of its account once (400 per call) instead of describing each group on its own.
const LIST_FROM_BINDINGS: usize = 20;

/// Lists the account's groups into the cache, once per process, when enough bindings exist for it
/// to save calls (a first start). Concurrent callers wait for the one listing; a failed listing
/// leaves each binding to describe its own group.
async fn list_once(ctx: &Context, aws: &dyn TargetGroupApi) {
    ctx.groups_listed
        .get_or_init(|| async {
            if ctx.bindings.state().len() < LIST_FROM_BINDINGS {
                return;
            }
            match aws.list_target_groups().await {
                Ok(Some(all)) => {
                    let mut groups = ctx.groups.lock().unwrap();
                    for group in all {
                        groups.insert(group.arn.clone(), group);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not list target groups; describing them one by one"),
            }
        })
        .await;
}

/// Forgets a group that AWS no longer has, so it is looked up again.
pub(super) fn forget(ctx: &Context, arn: &str) {
    ctx.groups.lock().unwrap().retain(|_, g| g.arn != arn);
}

/// The CIDRs of the group's VPC, or `None` when the VPC is not visible to this account (peered,
/// another account's): then every address counts as outside.
pub(super) async fn vpc_cidrs(
    ctx: &Context,
    aws: &dyn TargetGroupApi,
    vpc_id: &str,
    role: Option<&AssumedRole>,
) -> Result<Option<Vec<Cidr>>, Problem> {
    let key = format!("{}|{vpc_id}", role.map_or("", |r| r.role_arn.as_str()));
    if let Some((read, cidrs)) = ctx.vpc_cidrs.lock().unwrap().get(&key) {
        if read.elapsed() < VPC_CIDRS_TTL {
            return Ok(cidrs.clone());
        }
    }
    let cidrs = match aws.vpc_cidrs(vpc_id).await {
        Ok(cidrs) => cidrs.map(|all| all.iter().filter_map(|c| Cidr::parse(c)).collect::<Vec<_>>()),
        Err(e) if e.kind == ErrorKind::AccessDenied => None,
        Err(e) => return Err(problem(e, role, vpc_id)),
    };
    ctx.vpc_cidrs.lock().unwrap().insert(key, (Instant::now(), cidrs.clone()));
    Ok(cidrs)
}

/// The record of this binding's group and settings, as the annotation holds it.
pub(super) fn record(tgb: &TargetGroupBinding, group: &TargetGroupFacts, effective: &Effective) -> Bound {
    Bound {
        target_group_arn: group.arn.clone(),
        target_group_name: tgb
            .spec
            .target_group_arn
            .as_deref()
            .filter(|a| !a.is_empty())
            .is_none()
            .then(|| group.name.clone()),
        target_type: effective.target_type.as_str().to_string(),
        ip_address_type: effective.ip_address_type.as_str().to_string(),
        vpc_id: effective.vpc_id.clone(),
        protocol: group.protocol.clone(),
    }
}

/// Writes (or with `None`, removes) the record annotation. With `add_finalizer`, the same patch
/// adds the controller's finalizer (see `reconcile`): one write before the first AWS write instead
/// of two.
pub(super) async fn write_record(
    ctx: &Context,
    tgb: &TargetGroupBinding,
    record: Option<&Bound>,
    add_finalizer: bool,
) -> Result<(), RecordWrite> {
    let mut metadata = serde_json::json!({ "annotations": { bound::ANNOTATION: record.map(bound::format) } });
    if add_finalizer {
        with_finalizer(tgb, &mut metadata);
    }
    let what = format!("record the bound target group on the binding (annotation {})", bound::ANNOTATION);
    patch_metadata(ctx, tgb, metadata, &what).await
}

/// Adds the controller's finalizer alone: for a binding refused before its record is written,
/// whose deletion must still release the pods waiting on its readiness gate.
pub(super) async fn write_finalizer(ctx: &Context, tgb: &TargetGroupBinding) -> Result<(), RecordWrite> {
    let mut metadata = serde_json::json!({});
    with_finalizer(tgb, &mut metadata);
    patch_metadata(ctx, tgb, metadata, &format!("add the finalizer {FINALIZER} to the binding")).await
}

/// The finalizer list with ours added. A merge patch replaces the list whole, so it names the
/// resourceVersion it was computed from: a binding changed meanwhile answers 409 Conflict
/// ([`RecordWrite::Stale`]) rather than losing another controller's finalizer.
fn with_finalizer(tgb: &TargetGroupBinding, metadata: &mut serde_json::Value) {
    let mut finalizers = tgb.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    metadata["finalizers"] = serde_json::json!(finalizers);
    metadata["resourceVersion"] = serde_json::json!(tgb.resource_version());
}

async fn patch_metadata(ctx: &Context, tgb: &TargetGroupBinding, metadata: serde_json::Value, what: &str) -> Result<(), RecordWrite> {
    let api: Api<TargetGroupBinding> = Api::namespaced(ctx.client.clone(), &tgb.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "metadata": metadata });
    match api.patch(&tgb.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Err(RecordWrite::Stale),
        Err(e) => Err(RecordWrite::Failed(Problem::new(
            "BindingRecordFailed",
            format!("could not {what}: {e}"),
            Retry::Backoff,
        ))),
    }
}

/// Why the record (or the finalizer) was not written.
pub(super) enum RecordWrite {
    /// The binding changed since this reconcile read it: the reconcile runs again soon with the
    /// version the watch brings.
    Stale,
    Failed(Problem),
}

/// Whether the binding carries the controller's finalizer (its targets leave their group before
/// it goes).
pub(super) fn has_finalizer(tgb: &TargetGroupBinding) -> bool {
    tgb.finalizers().iter().any(|f| f == FINALIZER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(finalizers: &[&str]) -> TargetGroupBinding {
        let mut tgb = TargetGroupBinding::new("web", Default::default());
        tgb.metadata.resource_version = Some("42".into());
        tgb.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
        tgb
    }

    #[test]
    fn the_finalizer_keeps_other_finalizers_and_names_the_version_read() {
        let mut metadata = serde_json::json!({ "annotations": { "a": "b" } });
        with_finalizer(&binding(&["example.com/other"]), &mut metadata);
        assert_eq!(metadata["finalizers"], serde_json::json!(["example.com/other", FINALIZER]));
        assert_eq!(metadata["resourceVersion"], "42");
        assert_eq!(metadata["annotations"]["a"], "b");
    }
}
