//! One reconcile of one TargetGroupBinding: read what the cluster wants (from the watch caches),
//! read what the target group holds, write the difference (deregister first, then register), and
//! report it in status and events. Decisions are pure functions in `desired`, `validation`,
//! `status` and `readiness`; the I/O is split by concern:
//! - [`targets`]: the sync of targets (ELB writes, the multi-cluster ownership record);
//! - [`group`]: the target group (cached facts, its VPC's CIDRs) and the binding's record of it;
//! - [`lifecycle`]: what happens when a binding is deleted (the finalizer's cleanup);
//! - [`gates`]: pod readiness-gate conditions;
//! - [`networking`]: the glue to `spec.networking`'s security-group rules (EC2 writes);
//! - [`report`]: status patches, events and log lines.

mod gates;
mod group;
mod lifecycle;
mod networking;
mod report;
mod targets;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{instrument, warn};

use crate::budget;
use crate::context::{backoff, BindingMemory, Context, Error, Quiet};
use crate::crd::{TargetGroupBinding, FINALIZER};
use crate::status::Retry;
use crate::synced;
use targets::{Skip, Stop};

pub async fn reconcile(tgb: Arc<TargetGroupBinding>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = tgb.namespace().unwrap_or_default();
    let api: Api<TargetGroupBinding> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.metrics
        .queue_depth
        .set(ctx.pending.started(&ObjectRef::from_obj(tgb.as_ref())) as i64);
    ctx.metrics.reconciles_in_flight.inc();
    let started = std::time::Instant::now();
    // A binding without the finalizer and not being deleted syncs at once: its sync adds the
    // finalizer in the same write as its record, before any AWS write (kube-runtime's helper would
    // add it in a write and a reconcile of its own). Every other binding goes through the helper,
    // which runs the cleanup when one is deleted.
    let adds_finalizer = tgb.metadata.deletion_timestamp.is_none() && !group::has_finalizer(&tgb);
    let reconciled = async {
        if adds_finalizer {
            return apply(&tgb, &api, &ctx).await;
        }
        finalizer(&api, FINALIZER, tgb, |event| async {
            match event {
                Event::Apply(tgb) => apply(&tgb, &api, &ctx).await,
                Event::Cleanup(tgb) => lifecycle::cleanup(&tgb, &api, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)))
    };
    // A change until the sync finds nothing new to write (see `budget`).
    let result = budget::PRIORITY
        .scope(std::cell::Cell::new(budget::Priority::Change), reconciled)
        .await;
    ctx.metrics.reconciles_in_flight.dec();
    ctx.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
    result
}

/// Retries for errors that escaped `apply` (a failed status write, a finalizer patch conflict).
pub fn error_policy(tgb: Arc<TargetGroupBinding>, err: &Error, ctx: Arc<Context>) -> Action {
    warn!(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default(), error = %err, "reconcile failed");
    ctx.metrics.reconcile_error("ControllerError");
    let failures = report::failures(&ctx, &tgb);
    Action::requeue(backoff(failures + 1, &ctx.settings))
}

#[instrument(skip_all, fields(binding = %tgb.name_any(), namespace = tgb.namespace().unwrap_or_default()))]
async fn apply(tgb: &TargetGroupBinding, api: &Api<TargetGroupBinding>, ctx: &Context) -> Result<Action, Error> {
    let started = Instant::now();
    let uid = tgb.uid().unwrap_or_default();
    match targets::skip(tgb, ctx).await {
        Some(Skip::TrustedAtStart { digest }) => {
            let first = synced::first_verification(ctx.settings.resync, rand::random());
            let quiet = Quiet {
                generation: tgb.metadata.generation,
                until: Instant::now() + first,
            };
            let memory = BindingMemory {
                synced_targets: Some(digest),
                quiet: Some(quiet),
                ..Default::default()
            };
            ctx.memory.lock().unwrap().insert(uid, memory);
            ctx.metrics.bindings_trusted_at_start.inc();
            return Ok(Action::requeue(first));
        }
        Some(Skip::Quiet { left }) => return Ok(Action::requeue(left)),
        None => {}
    }
    let outcome = match targets::sync(tgb, ctx).await {
        Ok(synced) => Ok(synced),
        Err(Stop::Problem(p)) => Err(p),
        Err(Stop::Deferred(wait)) => {
            ctx.metrics.verifications_deferred.inc();
            return Ok(Action::requeue(wait));
        }
        // Read again from the cache soon, which the watch brings up to date: not on the watch
        // event alone, since a change of annotations or status alone wakes no reconcile (see
        // `run::binding_trigger`).
        Err(Stop::Stale) => return Ok(Action::requeue(Duration::from_millis(rand::random_range(200..500)))),
    };
    let failures = report::record_outcome(ctx, api, tgb, &outcome).await?;
    report::record_settled(ctx, tgb, &outcome).await;
    Ok(match outcome {
        // Targets on their way to healthy (and pods waiting on their gates): look again soon, this
        // group only. A group no load balancer uses never gets healthier.
        // The interval runs from this reconcile's start, so health is read every `health_recheck`
        // however long the reconcile took.
        Ok(s) if !s.settled() => {
            let interval = ctx.settings.health_recheck.min(ctx.settings.resync);
            Action::requeue(interval.saturating_sub(started.elapsed()).max(Duration::from_millis(50)))
        }
        Ok(_) => {
            let next = synced::next_resync(ctx.settings.resync, rand::random());
            if let Some(m) = ctx.memory.lock().unwrap().get_mut(&uid) {
                m.quiet = Some(Quiet {
                    generation: tgb.metadata.generation,
                    until: Instant::now() + next,
                });
            }
            Action::requeue(next)
        }
        Err(p) if p.retry == Retry::OnChange => Action::await_change(),
        // Throttling: the API budget has slowed down already and paces the retries, so they come
        // back soon rather than after a backoff that grows with every throttled attempt.
        Err(p) if p.reason == "Throttled" => Action::requeue(backoff(1, &ctx.settings)),
        Err(_) => Action::requeue(backoff(failures, &ctx.settings)),
    })
}
