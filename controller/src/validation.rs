//! Pure checks of a binding's spec, made before any AWS call: its form, fields that must not
//! change, and one binding per target group. Each failure is a `Problem` for the binding's status;
//! none of them writes to AWS.

use std::sync::Arc;

use kube::{Resource, ResourceExt};
use tgbind_aws::{Elbv2Arn, Elbv2Kind};

use crate::crd::TargetGroupBinding;
use crate::networking::rules as network_rules;
use crate::ownership;
use crate::status::{Problem, Retry};

/// The target group this binding names, checked for form.
pub fn arn_problem(arn: &str) -> Option<Problem> {
    Elbv2Arn::parse_kind(arn, Elbv2Kind::TargetGroup).is_none().then(|| {
        Problem::new(
            "InvalidSpec",
            format!(
                "spec.targetGroupARN {arn:?} is not a target group ARN ({})",
                Elbv2Kind::TargetGroup.form()
            ),
            Retry::OnChange,
        )
    })
}

/// Validation that needs no I/O: form of the spec, immutable fields, one binding per group.
/// `same_group` are the other bindings the index finds for the same target group ARN.
pub fn check_spec(tgb: &TargetGroupBinding, same_group: &[Arc<TargetGroupBinding>]) -> Result<(), Problem> {
    let spec = &tgb.spec;
    if spec.service_ref.name.is_empty() {
        return Err(Problem::new("InvalidSpec", "spec.serviceRef.name is empty", Retry::OnChange));
    }
    match (&spec.target_group_arn, &spec.target_group_name) {
        (Some(arn), _) => {
            if let Some(p) = arn_problem(arn) {
                return Err(p);
            }
        }
        (None, Some(name)) if !name.is_empty() => {}
        _ => {
            return Err(Problem::new(
                "InvalidSpec",
                "set spec.targetGroupARN (or spec.targetGroupName)",
                Retry::OnChange,
            ))
        }
    }
    if let Some(networking) = &spec.networking {
        network_rules::validate(networking, tgb.target_type()).map_err(|e| Problem::new("InvalidSpec", e, Retry::OnChange))?;
    }
    if let (Some(recorded), Some(arn)) = (
        tgb.status.as_ref().and_then(|s| s.target_group_arn.as_ref()),
        &spec.target_group_arn,
    ) {
        if recorded != arn {
            return Err(Problem::new(
                "ImmutableFieldChanged",
                format!("spec.targetGroupARN changed from {recorded} to {arn}; it cannot change. Targets stay in {recorded}: delete this binding and create a new one."),
                Retry::OnChange,
            ));
        }
    }
    // Two bindings writing one group (without multiCluster) would undo each other: the older wins.
    if let Some(arn) = &spec.target_group_arn {
        let me = tgb.uid();
        let older = same_group.iter().find(|other| {
            // Bindings that both declare a multi-cluster group each own their own targets.
            let sharing = ownership::is_multi_cluster(tgb) && ownership::is_multi_cluster(other);
            !sharing
                && other.uid() != me
                && other.spec.target_group_arn.as_ref() == Some(arn)
                && other.meta().deletion_timestamp.is_none()
                && (other.meta().creation_timestamp.as_ref().map(|t| t.0), other.name_any())
                    < (tgb.meta().creation_timestamp.as_ref().map(|t| t.0), tgb.name_any())
        });
        if let Some(other) = older {
            return Err(Problem::new(
                "TargetGroupAlreadyBound",
                format!(
                    "target group {arn} is bound by {}/{}; this binding makes no changes to it",
                    other.namespace().unwrap_or_default(),
                    other.name_any()
                ),
                Retry::OnChange,
            ));
        }
    }
    Ok(())
}
