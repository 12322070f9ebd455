//! What a reconcile tells: status patches, events and log lines, and the problems AWS and the
//! ownership record report, in the words the Ready condition uses.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::{Resource, ResourceExt};
use tgbind_aws::{AwsError, ErrorKind, Target};
use tracing::{info, warn};

use crate::context::{Context, Error};
use crate::crd::{TargetGroupBinding, TargetGroupBindingStatus};
use crate::status::{next_status, ready_reason, Problem, Retry, Synced};
use crate::synced;

/// Failures in a row this process has seen for a binding (its retry backoff).
pub(super) fn failures(ctx: &Context, tgb: &TargetGroupBinding) -> u32 {
    let uid = tgb.uid().unwrap_or_default();
    ctx.memory.lock().unwrap().get(&uid).map_or(0, |m| m.failures)
}

/// Reports an outcome: the status (written only when it changes), one event per new problem, a
/// log line, and the failure count, which it returns. The previous status is the object's, or
/// where the CRD pruned it (the LBC's CRD keeps only `observedGeneration`) the one this process
/// last wrote, so transition times and events do not restart at every reconcile.
pub(super) async fn record_outcome(
    ctx: &Context,
    api: &Api<TargetGroupBinding>,
    tgb: &TargetGroupBinding,
    outcome: &Result<Synced, Problem>,
) -> Result<u32, Error> {
    let uid = tgb.uid().unwrap_or_default();
    let memory = ctx.memory.lock().unwrap().get(&uid).cloned().unwrap_or_default();
    let from_object = tgb.status.as_ref().filter(|s| !s.conditions.is_empty());
    let prev = from_object.or(memory.written.as_ref());
    let mut next = next_status(prev, tgb.meta().generation, outcome, Time(k8s_openapi::jiff::Timestamp::now()));
    let failures = match outcome {
        Ok(_) => 0,
        Err(p) if p.retry == Retry::Backoff => memory.failures + 1,
        Err(_) => 0,
    };
    next.consecutive_failures = (failures > 0).then_some(failures as i32);
    if let Err(p) = outcome {
        ctx.metrics.reconcile_error(p.reason);
        // One event per new problem, not one per retry.
        if ready_reason(prev) != Some(p.reason) {
            publish(ctx, &tgb.object_ref(&()), EventType::Warning, p.reason, &p.message).await;
        }
        warn!(reason = p.reason, message = %p.message, "binding not ready");
    }
    let unchanged = from_object == Some(&next) || (from_object.is_none() && memory.written.as_ref() == Some(&next));
    if !unchanged {
        api.patch_status(
            &tgb.name_any(),
            &PatchParams::default(),
            &Patch::Merge(status_patch(tgb.status.as_ref(), &next)),
        )
        .await?;
    }
    ctx.memory.lock().unwrap().insert(
        uid,
        crate::context::BindingMemory {
            failures,
            // Kept only while the object does not show it (the LBC's CRD prunes it, or the watch
            // has not brought the write back yet): one status per binding less in memory.
            written: from_object.is_none().then_some(next),
            synced_targets: match outcome {
                Ok(s) => Some(s.targets_digest),
                Err(_) => memory.synced_targets,
            },
            quiet: None,
        },
    );
    Ok(failures)
}

/// Keeps the binding's record of its last settled sync (see `synced`) true: written after a sync
/// that left every desired target healthy, removed after any other outcome. The record only saves
/// AWS reads after a restart, so a failed write here is logged and the reconcile goes on (the sync
/// removed a stale record before its first AWS write).
pub(super) async fn record_settled(ctx: &Context, tgb: &TargetGroupBinding, outcome: &Result<Synced, Problem>) {
    let want = match outcome {
        Ok(s) => synced::after_sync(tgb.meta().generation, s.targets_digest, s.settled()),
        Err(_) => None,
    };
    let have = tgb.metadata.annotations.as_ref().and_then(|a| a.get(synced::ANNOTATION));
    let have = have.filter(|_| !matches!(outcome, Ok(s) if s.wrote));
    if have != want.as_ref() {
        if let Err(p) = write_settled(ctx, tgb, want.as_deref()).await {
            warn!(message = %p.message, "could not record the settled sync");
        }
    }
}

/// Writes (or with `None`, removes) the record of the last settled sync.
pub(super) async fn write_settled(ctx: &Context, tgb: &TargetGroupBinding, value: Option<&str>) -> Result<(), Problem> {
    let api: Api<TargetGroupBinding> = Api::namespaced(ctx.client.clone(), &tgb.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "metadata": { "annotations": { synced::ANNOTATION: value } } });
    api.patch(&tgb.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
        .map_err(|e| {
            Problem::new(
                "BindingRecordFailed",
                format!("could not update the annotation {} on the binding: {e}", synced::ANNOTATION),
                Retry::Backoff,
            )
        })
}

/// A JSON merge patch from `prev` to `next`: fields `next` leaves out are sent as null, since a merge
/// patch that omits a field keeps its old value.
pub(super) fn status_patch(prev: Option<&TargetGroupBindingStatus>, next: &TargetGroupBindingStatus) -> serde_json::Value {
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

pub(super) async fn publish(ctx: &Context, reference: &ObjectReference, kind: EventType, reason: &str, note: &str) {
    let event = KubeEvent {
        type_: kind,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    let published = match kind {
        EventType::Warning => ctx.recorder.publish(&event, reference).await,
        // Targets written are news once. The shared recorder keeps every event it publishes for
        // six minutes (to fold repeats into a series): at a first start with 10,000 bindings its
        // cache was the largest thing in memory. A recorder of their own keeps nothing.
        EventType::Normal => {
            Recorder::new(ctx.client.clone(), ctx.reporter.clone())
                .publish(&event, reference)
                .await
        }
    };
    if let Err(e) = published {
        warn!(error = %e, "could not publish event");
    }
}

pub(super) fn aws_problem(e: AwsError, arn: &str) -> Problem {
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

pub(super) fn record_problem(e: kube::Error) -> Problem {
    Problem::new(
        "OwnershipRecordFailed",
        format!("could not read or write the multi-cluster ownership ConfigMap: {e}"),
        Retry::Backoff,
    )
}

/// A log line and a Normal event for targets written.
pub(super) async fn announce(ctx: &Context, reference: &ObjectReference, reason: &str, verb: &str, targets: &[Target]) {
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
