//! Pod readiness gates, as pure decisions. A pod that lists the gate
//! `target-health.elbv2.k8s.aws/<binding>` in `spec.readinessGates` only becomes Ready once the
//! controller sets that pod condition True, which it does when the pod's target is healthy in the
//! group. A rolling update then waits for the load balancer, not just the kubelet, before it takes
//! the next old pod away.

use k8s_openapi::api::core::v1::Pod;
use tgbind_aws::{HealthState, TargetHealth};

/// The gate (and pod condition type) of a binding; the AWS Load Balancer Controller's key.
pub const GATE_PREFIX: &str = "target-health.elbv2.k8s.aws/";

pub fn gate_type(binding: &str) -> String {
    format!("{GATE_PREFIX}{binding}")
}

/// The pod condition the controller wants for a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCondition {
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

/// The gate condition for a target's health (`None`: no health data for the target yet).
pub fn condition_for(health: Option<&TargetHealth>) -> GateCondition {
    let Some(h) = health else {
        return GateCondition {
            status: "Unknown",
            reason: "TargetNotRegistered".into(),
            message: "the target is not in the target group's health report yet".into(),
        };
    };
    let reason = h.reason.clone().unwrap_or_else(|| h.state.as_str().to_string());
    match h.state {
        HealthState::Healthy => GateCondition {
            status: "True",
            reason: "Healthy".into(),
            message: "the target is healthy in the target group".into(),
        },
        // A group no load balancer uses has no health checks: waiting would block pods forever.
        HealthState::Unused => GateCondition {
            status: "True",
            reason: "TargetGroupNotInUse".into(),
            message: "the target group is not attached to a load balancer, so it has no health checks".into(),
        },
        state => GateCondition {
            status: "False",
            reason,
            message: format!("the target is {} in the target group", state.as_str()),
        },
    }
}

fn has_gate(pod: &Pod, gate: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .is_some_and(|gates| gates.iter().any(|g| g.condition_type == gate))
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// A pod that is not Ready only because it waits for this gate: it carries the gate and its
/// containers are ready. Its endpoint must be registered anyway, or the gate could never pass.
pub fn waits_only_on_gate(pod: &Pod, gate: &str) -> bool {
    has_gate(pod, gate)
        && pod.metadata.deletion_timestamp.is_none()
        && condition(pod, "ContainersReady").is_some_and(|c| c.status == "True")
}

/// Whether the pod's gate condition differs from `wanted` (status or reason).
pub fn needs_update(pod: &Pod, gate: &str, wanted: &GateCondition) -> bool {
    match condition(pod, gate) {
        Some(c) => c.status != wanted.status || c.reason.as_deref() != Some(wanted.reason.as_str()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodReadinessGate, PodSpec, PodStatus};
    use tgbind_aws::Target;

    fn pod(gates: &[&str], conditions: &[(&str, &str)]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                readiness_gates: Some(
                    gates
                        .iter()
                        .map(|g| PodReadinessGate {
                            condition_type: g.to_string(),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: Some(PodStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s)| PodCondition {
                            type_: t.to_string(),
                            status: s.to_string(),
                            reason: Some("Healthy".into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn health(state: HealthState, reason: Option<&str>) -> TargetHealth {
        TargetHealth {
            target: Target {
                id: "10.0.0.1".into(),
                port: 80,
            },
            state,
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn conditions_follow_elb_health() {
        assert_eq!(condition_for(Some(&health(HealthState::Healthy, None))).status, "True");
        let initial = condition_for(Some(&health(HealthState::Initial, Some("Elb.RegistrationInProgress"))));
        assert_eq!((initial.status, initial.reason.as_str()), ("False", "Elb.RegistrationInProgress"));
        let unhealthy = condition_for(Some(&health(HealthState::Unhealthy, None)));
        assert_eq!((unhealthy.status, unhealthy.reason.as_str()), ("False", "unhealthy"));
        assert_eq!(condition_for(None).status, "Unknown");
        let unused = condition_for(Some(&health(HealthState::Unused, Some("Target.NotInUse"))));
        assert_eq!((unused.status, unused.reason.as_str()), ("True", "TargetGroupNotInUse"));
    }

    #[test]
    fn only_pods_with_ready_containers_and_the_gate_wait_on_it() {
        let gate = gate_type("web");
        assert!(waits_only_on_gate(&pod(&[&gate], &[("ContainersReady", "True")]), &gate));
        assert!(!waits_only_on_gate(&pod(&[&gate], &[("ContainersReady", "False")]), &gate));
        assert!(!waits_only_on_gate(&pod(&["other"], &[("ContainersReady", "True")]), &gate));
        let with_condition = pod(&[&gate], &[(&gate, "True")]);
        assert!(!needs_update(
            &with_condition,
            &gate,
            &condition_for(Some(&health(HealthState::Healthy, None)))
        ));
        assert!(needs_update(&with_condition, &gate, &condition_for(None)));
    }
}
