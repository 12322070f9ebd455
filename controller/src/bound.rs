//! What a binding is bound to, kept on the binding itself: an annotation written once, before the
//! controller's first AWS write for it, naming the target group and the settings then in effect.
//! Cleanup on delete and the guard against edits of immutable fields read it, never the status:
//! with the LBC's CRD installed, the API server prunes every status field but
//! `observedGeneration`, while annotations always survive. Pure: reading, comparing, formatting.

use serde::{Deserialize, Serialize};

use crate::crd::{TargetGroupBinding, TargetType};

/// The annotation holding the record (JSON).
pub const ANNOTATION: &str = "tgbind.io/bound-target-group";

/// The target group a binding writes to and the settings it was bound with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bound {
    #[serde(rename = "targetGroupARN")]
    pub target_group_arn: String,
    /// Set when the binding named its group by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    pub target_type: String,
    pub ip_address_type: String,
    #[serde(rename = "vpcID", default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The group's protocol (absent from records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

impl Bound {
    /// The group as the record knows it, when the record is complete: a group's ARN, type, address
    /// type, VPC and protocol never change, so a restarted controller need not ask AWS again.
    pub fn facts(&self) -> Option<tgbind_aws::TargetGroupFacts> {
        if self.target_type.is_empty() || self.ip_address_type.is_empty() {
            return None;
        }
        Some(tgbind_aws::TargetGroupFacts {
            arn: self.target_group_arn.clone(),
            name: self.target_group_name.clone().unwrap_or_default(),
            target_type: self.target_type.clone(),
            ip_address_type: self.ip_address_type.clone(),
            vpc_id: self.vpc_id.clone(),
            protocol: Some(self.protocol.clone()?),
            port: None,
        })
    }
}

/// The binding's record: the annotation, or for bindings synced by an earlier tgbind version (which
/// kept the ARN in status only) the ARN from status.
pub fn read(tgb: &TargetGroupBinding) -> Option<Bound> {
    if let Some(text) = tgb.metadata.annotations.as_ref().and_then(|a| a.get(ANNOTATION)) {
        if let Ok(bound) = serde_json::from_str::<Bound>(text) {
            return Some(bound);
        }
    }
    let arn = tgb.status.as_ref()?.target_group_arn.clone()?;
    Some(Bound {
        target_group_arn: arn,
        target_group_name: None,
        target_type: String::new(),
        ip_address_type: String::new(),
        vpc_id: None,
        protocol: None,
    })
}

/// The target type a binding is known to have without asking AWS: its spec's, else the one it was
/// bound with, else the one its status shows (our CRD). `None` before its first sync.
pub fn known_target_type(tgb: &TargetGroupBinding) -> Option<TargetType> {
    let parse = |t: &str| match t {
        "ip" => Some(TargetType::Ip),
        "instance" => Some(TargetType::Instance),
        _ => None,
    };
    tgb.spec
        .target_type
        .or_else(|| read(tgb).and_then(|b| parse(&b.target_type)))
        .or_else(|| tgb.status.as_ref()?.target_type.as_deref().and_then(parse))
}

/// The annotation's value for a record.
pub fn format(bound: &Bound) -> String {
    serde_json::to_string(bound).expect("the record serializes")
}

/// The spec fields that contradict the record: the ones that cannot change once a binding has
/// written to its group. Fields the spec leaves out (the group decides them) never contradict;
/// fields the record does not know (a record from status only) are not judged.
pub fn contradictions(bound: &Bound, tgb: &TargetGroupBinding) -> Vec<String> {
    let spec = &tgb.spec;
    let mut out = Vec::new();
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(arn) = nonempty(&spec.target_group_arn) {
        if arn != bound.target_group_arn {
            out.push(format!("spec.targetGroupARN ({arn}, bound to {})", bound.target_group_arn));
        }
    } else if let (Some(name), Some(was)) = (nonempty(&spec.target_group_name), &bound.target_group_name) {
        if &name != was {
            out.push(format!("spec.targetGroupName ({name}, bound to {was})"));
        }
    }
    if let Some(t) = spec.target_type {
        if !bound.target_type.is_empty() && t.as_str() != bound.target_type {
            out.push(format!("spec.targetType ({}, bound as {})", t.as_str(), bound.target_type));
        }
    }
    if let Some(t) = spec.ip_address_type {
        if !bound.ip_address_type.is_empty() && t.as_str() != bound.ip_address_type {
            out.push(format!("spec.ipAddressType ({}, bound as {})", t.as_str(), bound.ip_address_type));
        }
    }
    if let (Some(vpc), Some(was)) = (nonempty(&spec.vpc_id), &bound.vpc_id) {
        if &vpc != was {
            out.push(format!("spec.vpcID ({vpc}, bound to {was})"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{TargetGroupBindingSpec, TargetGroupBindingStatus, TargetType};

    fn bound() -> Bound {
        Bound {
            target_group_arn: "arn:a".into(),
            target_group_name: None,
            target_type: "ip".into(),
            ip_address_type: "ipv4".into(),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            protocol: Some("HTTP".into()),
        }
    }

    fn binding(spec: TargetGroupBindingSpec) -> TargetGroupBinding {
        TargetGroupBinding::new("b", spec)
    }

    #[test]
    fn records_round_trip_through_the_annotation() {
        let mut tgb = binding(Default::default());
        assert_eq!(read(&tgb), None);
        tgb.metadata.annotations = Some([(ANNOTATION.to_string(), format(&bound()))].into());
        assert_eq!(read(&tgb), Some(bound()));
        let facts = bound().facts().expect("a complete record knows its group");
        assert_eq!((facts.target_type.as_str(), facts.protocol.as_deref()), ("ip", Some("HTTP")));
        // An earlier version's binding: the ARN from status, nothing else known.
        let mut legacy = binding(Default::default());
        legacy.status = Some(TargetGroupBindingStatus {
            target_group_arn: Some("arn:old".into()),
            ..Default::default()
        });
        let old = read(&legacy).unwrap();
        assert_eq!(old.target_group_arn, "arn:old");
        assert_eq!(old.facts(), None, "an incomplete record sends the controller to AWS");
        assert!(contradictions(
            &old,
            &binding(TargetGroupBindingSpec {
                target_type: Some(TargetType::Instance),
                target_group_arn: Some("arn:old".into()),
                ..Default::default()
            })
        )
        .is_empty());
    }

    #[test]
    fn only_explicit_changes_of_bound_fields_contradict() {
        let same = binding(TargetGroupBindingSpec {
            target_group_arn: Some("arn:a".into()),
            ..Default::default()
        });
        assert!(contradictions(&bound(), &same).is_empty(), "left-out fields never contradict");
        let moved = binding(TargetGroupBindingSpec {
            target_group_arn: Some("arn:b".into()),
            target_type: Some(TargetType::Instance),
            vpc_id: Some("vpc-1111111111111111".into()),
            ..Default::default()
        });
        let found = contradictions(&bound(), &moved);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("spec.targetGroupARN"));
        let mut by_name = bound();
        by_name.target_group_name = Some("web".into());
        let renamed = binding(TargetGroupBindingSpec {
            target_group_name: Some("web-2".into()),
            ..Default::default()
        });
        assert_eq!(contradictions(&by_name, &renamed).len(), 1);
    }
}
