//! The status a reconcile outcome produces, as a pure function: conditions keep their transition
//! time while unchanged, and an unchanged status is not written again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::{TargetGroupBindingStatus, READY};
use crate::validation::Effective;

/// What went wrong, in the words the Ready condition and the events use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase reason: TargetGroupNotFound, ServiceNotFound, PortNotFound, AccessDenied, Throttled...
    pub reason: &'static str,
    pub message: String,
    pub retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Nothing changes until the spec or the cluster does (an invalid spec).
    OnChange,
    /// Retry with backoff (AWS trouble, a missing object that may appear).
    Backoff,
}

impl Problem {
    pub fn new(reason: &'static str, message: impl Into<String>, retry: Retry) -> Self {
        Self {
            reason,
            message: message.into(),
            retry,
        }
    }
}

/// Figures of a successful sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    pub target_group_arn: String,
    pub desired: usize,
    pub registered: usize,
    pub healthy: usize,
    /// The group's targets all report `unused`: no load balancer uses the group.
    pub not_in_use: bool,
    /// The settings in effect (shown in status and `kubectl get`).
    pub effective: Option<Effective>,
    /// A digest of the targets this sync left registered: the next reconcile that wants the same
    /// targets only verifies (and goes after changes in the API budget).
    pub targets_digest: u64,
    /// This sync wrote to the group (and so removed the binding's record of its last settled sync).
    pub wrote: bool,
}

impl Synced {
    /// Every desired target registered and healthy, or nothing to wait for (no load balancer uses
    /// the group): no health recheck is needed.
    pub fn settled(&self) -> bool {
        self.healthy >= self.desired || self.not_in_use
    }
}

pub fn next_status(
    prev: Option<&TargetGroupBindingStatus>,
    generation: Option<i64>,
    outcome: &Result<Synced, Problem>,
    now: Time,
) -> TargetGroupBindingStatus {
    let prev = prev.cloned().unwrap_or_default();
    let (status, reason, message) = match outcome {
        Ok(s) if s.not_in_use => (
            "True",
            "TargetGroupNotInUse",
            format!(
                "{} of {} targets registered; the target group is not attached to a load balancer, so it has no health checks and readiness gates pass",
                s.registered, s.desired
            ),
        ),
        Ok(s) => (
            "True",
            "Synced",
            format!("{} of {} targets registered, {} healthy", s.registered, s.desired, s.healthy),
        ),
        Err(p) => ("False", p.reason, p.message.clone()),
    };
    let prev_ready = prev.conditions.iter().find(|c| c.type_ == READY);
    let transition = match prev_ready {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now,
    };
    let ready = Condition {
        type_: READY.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time: transition,
        observed_generation: generation,
    };
    let mut next = TargetGroupBindingStatus {
        observed_generation: generation,
        conditions: vec![ready],
        ..prev.clone()
    };
    match outcome {
        Ok(s) => {
            next.target_group_arn = Some(s.target_group_arn.clone());
            next.desired_targets = Some(s.desired as i32);
            next.registered_targets = Some(s.registered as i32);
            next.healthy_targets = Some(s.healthy as i32);
            next.consecutive_failures = None;
            if let Some(e) = &s.effective {
                next.target_type = Some(e.target_type.as_str().to_string());
                next.ip_address_type = Some(e.ip_address_type.as_str().to_string());
                next.vpc_id = e.vpc_id.clone();
                next.target_group_protocol = e.protocol.clone();
            }
        }
        Err(p) if p.retry == Retry::Backoff => next.consecutive_failures = Some(prev.consecutive_failures.unwrap_or(0) + 1),
        Err(_) => next.consecutive_failures = None,
    }
    next
}

/// The Ready condition's reason, for noticing changes worth an event.
pub fn ready_reason(status: Option<&TargetGroupBindingStatus>) -> Option<&str> {
    status?.conditions.iter().find(|c| c.type_ == READY).map(|c| c.reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_ready_flips() {
        let ok = Ok(Synced {
            target_group_arn: "arn".into(),
            desired: 2,
            registered: 2,
            healthy: 1,
            not_in_use: false,
            effective: None,
            targets_digest: 0,
            wrote: false,
        });
        let first = next_status(None, Some(1), &ok, t(100));
        assert_eq!(first.conditions[0].status, "True");
        assert_eq!(first.registered_targets, Some(2));
        let again = next_status(Some(&first), Some(1), &ok, t(200));
        assert_eq!(again, first, "an unchanged outcome writes nothing new");
        let failed = next_status(
            Some(&first),
            Some(1),
            &Err(Problem::new("Throttled", "slow down", Retry::Backoff)),
            t(300),
        );
        assert_eq!(failed.conditions[0].last_transition_time, t(300));
        assert_eq!(failed.consecutive_failures, Some(1));
        assert_eq!(failed.registered_targets, Some(2), "counts stay as last seen");
        let failed2 = next_status(
            Some(&failed),
            Some(1),
            &Err(Problem::new("Throttled", "slow down", Retry::Backoff)),
            t(400),
        );
        assert_eq!(failed2.consecutive_failures, Some(2));
        assert_eq!(failed2.conditions[0].last_transition_time, t(300));
    }
}
