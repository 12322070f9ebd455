//! A binding's end: when it is deleted, the pods waiting on its readiness gate are released, its
//! targets leave the group it is bound to (only those this cluster owns in a shared group), its
//! security-group rules are forgotten, and the finalizer lets it go. A failure shows in status as
//! `FailedCleanup`; the finalizer stays and the cleanup is retried.

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;
use tgbind_aws::{ErrorKind, Target};
use tracing::{info, instrument};

use super::{gates, group, networking, report};
use crate::bound;
use crate::context::{Context, Error};
use crate::crd::{TargetGroupBinding, TargetType};
use crate::desired::registered;
use crate::ownership;
use crate::status::{ready_reason, Problem, Retry};
use crate::validation::arn_problem;

#[instrument(skip_all, fields(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default()))]
pub(super) async fn cleanup(tgb: &TargetGroupBinding, api: &Api<TargetGroupBinding>, ctx: &Context) -> Result<Action, Error> {
    // Pods that carry this binding's gate would never become Ready otherwise.
    gates::release_gates(ctx, tgb).await;
    match deregister(tgb, ctx).await {
        Ok(()) => {
            ctx.memory.lock().unwrap().remove(&tgb.uid().unwrap_or_default());
            Ok(Action::await_change())
        }
        Err(e) => {
            let problem = Problem::new(
                "FailedCleanup",
                format!(
                    "could not take this binding's targets out of its target group: {e}; the finalizer stays and the cleanup is retried"
                ),
                Retry::Backoff,
            );
            // Shown in status and events; the error itself goes to the controller's retry.
            let _ = report::record_outcome(ctx, api, tgb, &Err(problem)).await;
            Err(e)
        }
    }
}

/// Takes the binding's targets out of the group it is bound to. A binding that never wrote to a
/// group (never synced, refused, or another binding holds its group) has nothing to clean; a
/// group that no longer exists neither.
async fn deregister(tgb: &TargetGroupBinding, ctx: &Context) -> Result<(), Error> {
    let recorded = tgb.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(bound::ANNOTATION));
    let Some(bound) = bound::read(tgb) else { return Ok(()) };
    // A record from an earlier tgbind version (status only): it wrote only once synced, and never
    // to a group another binding holds.
    if !recorded {
        let synced_once = tgb.status.as_ref().is_some_and(|s| s.registered_targets.is_some());
        if !synced_once || ready_reason(tgb.status.as_ref()) == Some("TargetGroupAlreadyBound") {
            return Ok(());
        }
    }
    let arn = bound.target_group_arn.clone();
    if arn_problem(&arn).is_some() {
        return Ok(());
    }
    let target_type = match bound.target_type.as_str() {
        "ip" => TargetType::Ip,
        "instance" => TargetType::Instance,
        _ => bound::known_target_type(tgb).unwrap_or(TargetType::Instance),
    };
    let role = group::assumed_role(tgb);
    let aws = ctx.accounts.for_role(role.as_ref()).await;
    let current = match aws.describe_target_health(&arn).await {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::NotFound => {
            networking::forget_networking(tgb, ctx, target_type, &[]).await?;
            return Ok(());
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
        match aws.deregister_targets(&arn, &targets).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ctx.metrics.targets_deregistered.inc_by(targets.len() as u64);
        info!(count = targets.len(), "deregistered the targets of a deleted binding");
    }
    networking::forget_networking(tgb, ctx, target_type, &targets).await?;
    if multi {
        ownership::delete(&ctx.client, tgb).await?;
    }
    Ok(())
}
