//! Nodes as instance targets (`targetType: instance`), as pure decisions: which nodes may receive
//! traffic, their EC2 instance IDs, and which node changes matter to a binding at all.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Nodes with this label never serve load balancer traffic (the Kubernetes well-known label).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// Labels that excluded nodes before that one and still do (the AWS Load Balancer Controller's
/// default node selector): the legacy exclusion label and control-plane nodes.
pub const LEGACY_EXCLUDE_LABELS: &[&str] = &[
    "alpha.service-controller.kubernetes.io/exclude-balancer",
    "node-role.kubernetes.io/master",
];

/// Fargate "nodes" have no instance to register.
fn is_fargate(labels: &BTreeMap<String, String>) -> bool {
    labels.get("eks.amazonaws.com/compute-type").map(String::as_str) == Some("fargate")
}

/// Taints of nodes on their way out: cluster-autoscaler's scale-down and Karpenter's disruption.
pub const LEAVING_TAINTS: &[&str] = &[
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
    "karpenter.sh/disruption",
    "karpenter.sh/disrupted",
];

/// The EC2 instance ID in a node's `spec.providerID` (`aws:///us-east-1a/i-0123456789abcdef0`).
pub fn instance_id(provider_id: &str) -> Option<&str> {
    let id = provider_id.strip_prefix("aws://")?.rsplit('/').next()?;
    id.starts_with("i-").then_some(id)
}

/// Whether `labels` satisfy a label selector (matchLabels and matchExpressions; no selector
/// selects everything). An unknown operator selects nothing.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else { return true };
    let labels_ok = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_leaving(node: &Node) -> bool {
    node.metadata.deletion_timestamp.is_some()
        || node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|ts| ts.iter().any(|t| LEAVING_TAINTS.contains(&t.key.as_str())))
}

/// The instance ID of a node that may serve traffic for a binding with `selector`: Ready, not
/// excluded (today's label, the legacy ones, control-plane and Fargate nodes), not being removed,
/// matching the selector, with an AWS provider ID.
pub fn eligible_instance<'a>(node: &'a Node, selector: Option<&LabelSelector>) -> Option<&'a str> {
    let labels = labels(node);
    let excluded =
        labels.contains_key(EXCLUDE_LABEL) || LEGACY_EXCLUDE_LABELS.iter().any(|l| labels.contains_key(*l)) || is_fargate(&labels);
    if !is_ready(node) || is_leaving(node) || excluded || !selector_matches(selector, &labels) {
        return None;
    }
    instance_id(node.spec.as_ref()?.provider_id.as_deref()?)
}

/// What about a node can change its eligibility: status heartbeats every few seconds must not wake
/// any binding.
pub fn node_trigger(node: &Node) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    is_ready(node).hash(&mut h);
    is_leaving(node).hash(&mut h);
    labels(node).hash(&mut h);
    node.spec.as_ref().and_then(|s| s.provider_id.clone()).hash(&mut h);
    Some(h.finish())
}

/// Drops what the controller never reads from a Node before it enters the cache (container image
/// lists and volumes are most of a node's size).
pub fn slim_node(node: &mut Node) {
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
        status.addresses = None;
        status.daemon_endpoints = None;
        status.node_info = None;
        status.allocatable = None;
        status.capacity = None;
        if let Some(conditions) = status.conditions.as_mut() {
            conditions.retain(|c| c.type_ == "Ready");
            for c in conditions.iter_mut() {
                // Heartbeats change every few seconds; keeping them would make every update differ.
                c.last_heartbeat_time = None;
                c.message = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, Taint};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn node(labels: &[(&str, &str)], ready: bool, taint: Option<&str>) -> Node {
        let mut n = Node::default();
        n.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        n.spec = Some(NodeSpec {
            provider_id: Some("aws:///us-east-1a/i-0123456789abcdef0".into()),
            taints: taint.map(|t| {
                vec![Taint {
                    key: t.into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        n
    }

    #[test]
    fn provider_ids_give_instance_ids() {
        assert_eq!(instance_id("aws:///us-east-1a/i-0123456789abcdef0"), Some("i-0123456789abcdef0"));
        assert_eq!(instance_id("aws:///i-0abc"), Some("i-0abc"));
        assert_eq!(instance_id("kind://docker/kind/kind-worker"), None);
        assert_eq!(instance_id("aws:///us-east-1a/fargate-ip-10-0-0-1"), None);
    }

    #[test]
    fn only_ready_staying_included_matching_nodes_serve() {
        let web = LabelSelector {
            match_labels: Some([("role".to_string(), "web".to_string())].into()),
            ..Default::default()
        };
        assert!(eligible_instance(&node(&[("role", "web")], true, None), Some(&web)).is_some());
        assert!(eligible_instance(&node(&[("role", "db")], true, None), Some(&web)).is_none());
        assert!(eligible_instance(&node(&[("role", "web")], false, None), Some(&web)).is_none());
        assert!(eligible_instance(&node(&[(EXCLUDE_LABEL, "")], true, None), None).is_none());
        for legacy in LEGACY_EXCLUDE_LABELS {
            assert!(eligible_instance(&node(&[(legacy, "")], true, None), None).is_none(), "{legacy}");
        }
        assert!(eligible_instance(&node(&[("eks.amazonaws.com/compute-type", "fargate")], true, None), None).is_none());
        assert!(eligible_instance(&node(&[("eks.amazonaws.com/compute-type", "ec2")], true, None), None).is_some());
        for taint in LEAVING_TAINTS {
            assert!(eligible_instance(&node(&[], true, Some(taint)), None).is_none(), "{taint}");
        }
        assert!(eligible_instance(&node(&[], true, Some("dedicated")), None).is_some());
    }

    #[test]
    fn match_expressions() {
        let sel = |op: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "zone".into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        };
        let labels: BTreeMap<String, String> = [("zone".to_string(), "a".to_string())].into();
        assert!(selector_matches(Some(&sel("In", &["a", "b"])), &labels));
        assert!(!selector_matches(Some(&sel("NotIn", &["a"])), &labels));
        assert!(selector_matches(Some(&sel("Exists", &[])), &labels));
        assert!(!selector_matches(Some(&sel("DoesNotExist", &[])), &labels));
        assert!(!selector_matches(Some(&sel("Gt", &["1"])), &labels));
        assert!(selector_matches(None, &labels));
    }

    #[test]
    fn heartbeats_do_not_trigger() {
        let mut a = node(&[("role", "web")], true, None);
        let before = node_trigger(&a);
        a.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_heartbeat_time = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
        );
        assert_eq!(node_trigger(&a), before);
        a.metadata.labels.as_mut().unwrap().insert("role".into(), "db".into());
        assert_ne!(node_trigger(&a), before);
    }
}
