//! Pure checks of a binding, in the order a reconcile meets them, each failure a `Problem` for the
//! binding's status and none of them writing to AWS:
//! 1. [`check_form`]: the spec alone (names, ARN and VPC ID forms, the node selector, fields that
//!    exclude each other);
//! 2. [`check_bound`]: the spec against what the binding was bound to (`bound`): the target group
//!    and the settings that cannot change once it has written to it;
//! 3. [`effective`]: the spec against the target group itself, taking what the spec leaves out
//!    from the group (as the AWS Load Balancer Controller's mutating webhook does), refusing what
//!    contradicts it;
//! 4. [`older_binding`]: one binding per target group.
//!
//! The CRD carries the same rules where the API server can enforce them (`crd::spec_rules`); these
//! checks hold on every API server version and with the LBC's CRD installed.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{Resource, ResourceExt};
use tgbind_aws::{Elbv2Arn, Elbv2Kind, TargetGroupFacts};

use crate::bound::{contradictions, Bound};
use crate::crd::{IpAddressType, TargetGroupBinding, TargetType};
use crate::networking::rules as network_rules;
use crate::ownership;
use crate::status::{Problem, Retry};

fn invalid(message: impl Into<String>) -> Problem {
    Problem::new("InvalidSpec", message, Retry::OnChange)
}

/// A spec string that counts as set (the LBC treats `""` as absent).
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// The target group this binding names, checked for form.
pub fn arn_problem(arn: &str) -> Option<Problem> {
    Elbv2Arn::parse_kind(arn, Elbv2Kind::TargetGroup).is_none().then(|| {
        invalid(format!(
            "spec.targetGroupARN {arn:?} is not a target group ARN ({})",
            Elbv2Kind::TargetGroup.form()
        ))
    })
}

/// `vpc-` followed by 8, 17 or 32 lower-case hexadecimal digits, as AWS (and the LBC) accept.
pub fn is_vpc_id(id: &str) -> bool {
    id.strip_prefix("vpc-")
        .is_some_and(|hex| matches!(hex.len(), 8 | 17 | 32) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A node selector's expressions must be ones Kubernetes accepts: an unknown operator, or `In` and
/// `NotIn` without values, would select no node and deregister every instance target.
fn node_selector_problem(selector: &LabelSelector) -> Option<String> {
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let at = format!("spec.nodeSelector.matchExpressions[{i}]");
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => return Some(format!("{at}: {} needs values", e.operator)),
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if !values.is_empty() => return Some(format!("{at}: {} takes no values", e.operator)),
            "Exists" | "DoesNotExist" => {}
            other => return Some(format!("{at}: unknown operator {other:?} (In, NotIn, Exists or DoesNotExist)")),
        }
        if e.key.is_empty() {
            return Some(format!("{at}: key is empty"));
        }
    }
    None
}

/// What the spec alone must satisfy.
pub fn check_form(tgb: &TargetGroupBinding) -> Result<(), Problem> {
    let spec = &tgb.spec;
    if spec.service_ref.name.is_empty() {
        return Err(invalid("spec.serviceRef.name is empty (or the binding has no spec)"));
    }
    match (set(&spec.target_group_arn), set(&spec.target_group_name)) {
        (Some(arn), _) => {
            if let Some(p) = arn_problem(arn) {
                return Err(p);
            }
        }
        (None, Some(_)) => {}
        (None, None) => return Err(invalid("set spec.targetGroupARN or spec.targetGroupName")),
    }
    if let Some(vpc) = set(&spec.vpc_id) {
        if !is_vpc_id(vpc) {
            return Err(invalid(format!(
                "spec.vpcID {vpc:?} is not a VPC ID: vpc- followed by 8, 17 or 32 lower-case hex digits"
            )));
        }
    }
    if let Some(selector) = &spec.node_selector {
        if let Some(problem) = node_selector_problem(selector) {
            return Err(invalid(problem));
        }
    }
    check_type_rules(tgb, spec.target_type)
}

/// Rules that depend on the target type: checked with the spec's type before any AWS call, and
/// again with the type in effect once the group is known.
fn check_type_rules(tgb: &TargetGroupBinding, target_type: Option<TargetType>) -> Result<(), Problem> {
    let spec = &tgb.spec;
    if target_type == Some(TargetType::Ip) && spec.node_selector.is_some() {
        return Err(invalid(
            "spec.nodeSelector applies to instance targets; this binding registers ip targets",
        ));
    }
    if target_type == Some(TargetType::Instance) && set(&spec.iam_role_arn_to_assume).is_some() {
        return Err(invalid(
            "spec.iamRoleArnToAssume works with ip targets only: instances belong to the cluster's account",
        ));
    }
    if let (Some(networking), Some(t)) = (&spec.networking, target_type) {
        network_rules::validate(networking, t).map_err(invalid)?;
    }
    Ok(())
}

/// The spec against the record of what the binding was bound to: the group and the settings that
/// cannot change once the binding has written to it.
pub fn check_bound(tgb: &TargetGroupBinding, bound: &Bound) -> Result<(), Problem> {
    let changed = contradictions(bound, tgb);
    if changed.is_empty() {
        return Ok(());
    }
    Err(Problem::new(
        "ImmutableFieldChanged",
        format!(
            "{} cannot change once a binding has written to its target group; targets stay in {} as they are. Restore the field, or delete this binding and create a new one",
            changed.join(", "),
            bound.target_group_arn
        ),
        Retry::OnChange,
    ))
}

/// The settings in effect for a binding: the spec's, or the target group's where the spec says
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub target_type: TargetType,
    pub ip_address_type: IpAddressType,
    pub vpc_id: Option<String>,
    pub protocol: Option<String>,
}

/// Takes what the spec leaves out from the group and refuses what contradicts it.
pub fn effective(tgb: &TargetGroupBinding, group: &TargetGroupFacts) -> Result<Effective, Problem> {
    let spec = &tgb.spec;
    let mismatch = |reason: &'static str, message: String| Err(Problem::new(reason, message, Retry::OnChange));
    let group_type = match group.target_type.as_str() {
        "ip" => TargetType::Ip,
        "instance" => TargetType::Instance,
        other => {
            return mismatch(
                "UnsupportedTargetType",
                format!(
                    "target group {} has target type {other}; bindings register ip or instance targets",
                    group.arn
                ),
            )
        }
    };
    if let Some(t) = spec.target_type {
        if t != group_type {
            return mismatch(
                "TargetTypeMismatch",
                format!(
                    "spec.targetType is {} but target group {} takes {} targets",
                    t.as_str(),
                    group.arn,
                    group_type.as_str()
                ),
            );
        }
    }
    let group_family = if group.ip_address_type == "ipv6" {
        IpAddressType::Ipv6
    } else {
        IpAddressType::Ipv4
    };
    if let Some(f) = spec.ip_address_type {
        if f != group_family {
            return mismatch(
                "IPAddressTypeMismatch",
                format!(
                    "spec.ipAddressType is {} but target group {} is {}",
                    f.as_str(),
                    group.arn,
                    group_family.as_str()
                ),
            );
        }
    }
    if let (Some(vpc), Some(group_vpc)) = (set(&spec.vpc_id), group.vpc_id.as_deref()) {
        if vpc != group_vpc {
            return mismatch(
                "VpcIDMismatch",
                format!("spec.vpcID {vpc} does not match target group {}'s VPC {group_vpc}", group.arn),
            );
        }
    }
    if let (Some(protocol), Some(group_protocol)) = (set(&spec.target_group_protocol), group.protocol.as_deref()) {
        if protocol != group_protocol {
            return mismatch(
                "TargetGroupProtocolMismatch",
                format!(
                    "spec.targetGroupProtocol is {protocol} but target group {} uses {group_protocol}",
                    group.arn
                ),
            );
        }
    }
    let protocol = group
        .protocol
        .clone()
        .or_else(|| set(&spec.target_group_protocol).map(str::to_string));
    if group_type == TargetType::Instance && matches!(protocol.as_deref(), Some("QUIC" | "TCP_QUIC")) {
        return Err(invalid("QUIC target groups take ip targets only"));
    }
    check_type_rules(tgb, Some(group_type))?;
    Ok(Effective {
        target_type: group_type,
        ip_address_type: group_family,
        vpc_id: group.vpc_id.clone().or_else(|| set(&spec.vpc_id).map(str::to_string)),
        protocol,
    })
}

/// Two bindings writing one group (without both sharing it as a multi-cluster group) would undo
/// each other: the older one keeps it. `same_group` are the bindings found for the group's ARN,
/// by ARN or by the group they are bound to.
pub fn older_binding(tgb: &TargetGroupBinding, arn: &str, same_group: &[Arc<TargetGroupBinding>]) -> Result<(), Problem> {
    let me = tgb.uid();
    let older = same_group.iter().find(|other| {
        let sharing = ownership::is_multi_cluster(tgb) && ownership::is_multi_cluster(other);
        !sharing
            && other.uid() != me
            && other.meta().deletion_timestamp.is_none()
            && (other.meta().creation_timestamp.as_ref().map(|t| t.0), other.name_any())
                < (tgb.meta().creation_timestamp.as_ref().map(|t| t.0), tgb.name_any())
    });
    match older {
        Some(other) => Err(Problem::new(
            "TargetGroupAlreadyBound",
            format!(
                "target group {arn} is bound by {}/{}; this binding makes no changes to it",
                other.namespace().unwrap_or_default(),
                other.name_any()
            ),
            Retry::OnChange,
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ServiceReference, TargetGroupBindingSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn spec() -> TargetGroupBindingSpec {
        TargetGroupBindingSpec {
            service_ref: ServiceReference {
                name: "web".into(),
                port: IntOrString::Int(80),
            },
            target_group_arn: Some(ARN.into()),
            ..Default::default()
        }
    }

    fn binding(spec: TargetGroupBindingSpec) -> TargetGroupBinding {
        TargetGroupBinding::new("b", spec)
    }

    fn reason(r: Result<impl std::fmt::Debug, Problem>) -> &'static str {
        r.err().map_or("ok", |p| p.reason)
    }

    fn group(target_type: &str, family: &str) -> TargetGroupFacts {
        TargetGroupFacts {
            arn: ARN.into(),
            name: "web".into(),
            target_type: target_type.into(),
            ip_address_type: family.into(),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            protocol: Some("HTTP".into()),
            port: Some(80),
        }
    }

    #[test]
    fn the_form_of_a_spec() {
        assert_eq!(reason(check_form(&binding(spec()))), "ok");
        assert_eq!(reason(check_form(&binding(Default::default()))), "InvalidSpec", "no spec at all");
        let mut s = spec();
        s.target_group_arn = Some(String::new());
        assert_eq!(reason(check_form(&binding(s.clone()))), "InvalidSpec", "an empty ARN is no ARN");
        s.target_group_name = Some("web".into());
        assert_eq!(reason(check_form(&binding(s))), "ok", "then the name names the group");
        for vpc in ["vpc-0123", "vpc-0123456789ABCDEF0", "subnet-01234567", "vpc-0123456789abcdef0x"] {
            let s = TargetGroupBindingSpec {
                vpc_id: Some(vpc.into()),
                ..spec()
            };
            assert_eq!(reason(check_form(&binding(s))), "InvalidSpec", "{vpc}");
        }
        for vpc in ["vpc-01234567", "vpc-0123456789abcdef0", "vpc-0123456789abcdef0123456789abcdef"] {
            assert!(is_vpc_id(vpc), "{vpc}");
        }
    }

    #[test]
    fn node_selectors_that_would_select_nothing_are_refused() {
        let with = |operator: &str, values: Option<Vec<&str>>| {
            let selector = LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "role".into(),
                    operator: operator.into(),
                    values: values.map(|v| v.into_iter().map(str::to_string).collect()),
                }]),
                match_labels: None,
            };
            binding(TargetGroupBindingSpec {
                node_selector: Some(selector),
                target_type: Some(TargetType::Instance),
                ..spec()
            })
        };
        assert_eq!(reason(check_form(&with("In", Some(vec!["web"])))), "ok");
        assert_eq!(reason(check_form(&with("Exists", None))), "ok");
        assert_eq!(reason(check_form(&with("In", None))), "InvalidSpec");
        assert_eq!(reason(check_form(&with("NotIn", Some(vec![])))), "InvalidSpec");
        assert_eq!(reason(check_form(&with("Exists", Some(vec!["x"])))), "InvalidSpec");
        assert_eq!(reason(check_form(&with("Matches", Some(vec!["x"])))), "InvalidSpec");
        // ip targets never take a node selector: explicitly, or once the group says ip.
        let mut ip = with("Exists", None);
        ip.spec.target_type = Some(TargetType::Ip);
        assert_eq!(reason(check_form(&ip)), "InvalidSpec");
        ip.spec.target_type = None;
        assert_eq!(reason(check_form(&ip)), "ok", "not known yet");
        assert_eq!(reason(effective(&ip, &group("ip", "ipv4"))), "InvalidSpec", "known from the group");
    }

    #[test]
    fn what_the_spec_leaves_out_comes_from_the_group() {
        let e = effective(&binding(spec()), &group("ip", "ipv6")).unwrap();
        assert_eq!((e.target_type, e.ip_address_type), (TargetType::Ip, IpAddressType::Ipv6));
        assert_eq!(e.vpc_id.as_deref(), Some("vpc-0123456789abcdef0"));
        assert_eq!(e.protocol.as_deref(), Some("HTTP"));
        let instance = effective(&binding(spec()), &group("instance", "ipv4")).unwrap();
        assert_eq!(instance.target_type, TargetType::Instance, "never ip by default");
    }

    #[test]
    fn what_contradicts_the_group_is_refused() {
        let cases = [
            (
                TargetGroupBindingSpec {
                    target_type: Some(TargetType::Instance),
                    ..spec()
                },
                "TargetTypeMismatch",
            ),
            (
                TargetGroupBindingSpec {
                    ip_address_type: Some(IpAddressType::Ipv6),
                    ..spec()
                },
                "IPAddressTypeMismatch",
            ),
            (
                TargetGroupBindingSpec {
                    vpc_id: Some("vpc-11111111".into()),
                    ..spec()
                },
                "VpcIDMismatch",
            ),
            (
                TargetGroupBindingSpec {
                    target_group_protocol: Some("TCP".into()),
                    ..spec()
                },
                "TargetGroupProtocolMismatch",
            ),
        ];
        for (s, expected) in cases {
            assert_eq!(reason(effective(&binding(s), &group("ip", "ipv4"))), expected);
        }
        assert_eq!(
            reason(effective(&binding(spec()), &group("lambda", "ipv4"))),
            "UnsupportedTargetType"
        );
        let mut quic = group("instance", "ipv4");
        quic.protocol = Some("QUIC".into());
        assert_eq!(reason(effective(&binding(spec()), &quic)), "InvalidSpec");
        let assumed = TargetGroupBindingSpec {
            iam_role_arn_to_assume: Some("arn:aws:iam::210987654321:role/tg".into()),
            ..spec()
        };
        assert_eq!(reason(effective(&binding(assumed), &group("instance", "ipv4"))), "InvalidSpec");
    }

    #[test]
    fn bound_fields_cannot_change() {
        let bound = Bound {
            target_group_arn: ARN.into(),
            target_group_name: None,
            target_type: "ip".into(),
            ip_address_type: "ipv4".into(),
            vpc_id: None,
            protocol: None,
        };
        assert_eq!(reason(check_bound(&binding(spec()), &bound)), "ok");
        let moved = TargetGroupBindingSpec {
            target_group_arn: Some(ARN.replace("web", "api")),
            ..spec()
        };
        assert_eq!(reason(check_bound(&binding(moved), &bound)), "ImmutableFieldChanged");
    }
}
