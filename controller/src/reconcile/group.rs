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
use crate::crd::TargetGroupBinding;
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

/// Writes (or with `None`, removes) the record annotation.
pub(super) async fn write_record(ctx: &Context, tgb: &TargetGroupBinding, record: Option<&Bound>) -> Result<(), Problem> {
    let api: Api<TargetGroupBinding> = Api::namespaced(ctx.client.clone(), &tgb.namespace().unwrap_or_default());
    let value = record.map(bound::format);
    let patch = serde_json::json!({ "metadata": { "annotations": { bound::ANNOTATION: value } } });
    api.patch(&tgb.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
        .map_err(|e| {
            Problem::new(
                "BindingRecordFailed",
                format!(
                    "could not record the bound target group on the binding (annotation {}): {e}",
                    bound::ANNOTATION
                ),
                Retry::Backoff,
            )
        })
}
