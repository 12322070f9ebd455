//! A binding's end: when it is deleted, its targets leave the group (only those this cluster owns
//! in a shared group), its security-group rules are forgotten, and the finalizer lets it go.

use kube::runtime::controller::Action;
use kube::ResourceExt;
use tgbind_aws::{ErrorKind, Target};
use tracing::{info, instrument};

use super::networking;
use crate::context::{Context, Error};
use crate::crd::{TargetGroupBinding, TargetGroupBindingStatus};
use crate::desired::registered;
use crate::ownership;
use crate::status::ready_reason;
use crate::validation::arn_problem;

/// On delete: take this binding's targets out of the group, then let the finalizer go. A group that
/// no longer exists has nothing to clean.
#[instrument(skip_all, fields(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default()))]
pub(super) async fn cleanup(tgb: &TargetGroupBinding, ctx: &Context) -> Result<Action, Error> {
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
            networking::forget_networking(tgb, ctx, &[]).await?;
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
    networking::forget_networking(tgb, ctx, &targets).await?;
    if multi {
        ownership::delete(&ctx.client, tgb).await?;
    }
    Ok(Action::await_change())
}
