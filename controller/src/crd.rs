//! The TargetGroupBinding custom resource, wire-compatible with the AWS Load Balancer Controller's
//! `elbv2.k8s.aws/v1beta1`: manifests written for it apply unchanged. The status adds what users
//! asked for (conditions, target counts) without changing any existing field.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const FINALIZER: &str = "elbv2.k8s.aws/resources";
pub const READY: &str = "Ready";

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupBinding",
    plural = "targetgroupbindings",
    shortname = "tgb",
    namespaced,
    status = "TargetGroupBindingStatus",
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.serviceRef.name","description":"The Service whose endpoints are registered"}"#,
    printcolumn = r#"{"name":"Port","type":"string","jsonPath":".spec.serviceRef.port","description":"The Service port"}"#,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.targetType","description":"ip or instance"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason","priority":1}"#,
    printcolumn = r#"{"name":"Targets","type":"integer","jsonPath":".status.registeredTargets","description":"Targets registered by this binding"}"#,
    printcolumn = r#"{"name":"Healthy","type":"integer","jsonPath":".status.healthyTargets","description":"Registered targets ELB reports healthy"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".spec.targetGroupARN","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// The target group's ARN. Either this or targetGroupName is required.
    #[serde(rename = "targetGroupARN", default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// The target group's name, resolved to its ARN in the controller's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    /// How endpoints are registered: `ip` (pod IPs) or `instance` (node instance IDs with the NodePort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "target_type_schema")]
    pub target_type: Option<TargetType>,
    /// The Service whose endpoints are registered.
    pub service_ref: ServiceReference,
    /// Security-group rules that let the load balancer reach the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    /// For instance targets: the nodes to register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// `ipv4` (default) or `ipv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ip_address_type_schema")]
    pub ip_address_type: Option<IpAddressType>,
    /// The VPC of the target group (informational; checked against the group when set).
    #[serde(rename = "vpcID", default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Other clusters register targets in the same group: only targets this cluster recorded are ever
    /// deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cluster_target_group: Option<bool>,
}

// Optional enums get plain string schemas: schemars would list `null` among the enum values, which
// kubectl's validation rejects and the 1.20 API server mishandles when converting the CRD.
fn string_enum(values: &[&str]) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": values })
}
fn target_type_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_enum(&["instance", "ip"])
}
fn ip_address_type_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_enum(&["ipv4", "ipv6"])
}
fn protocol_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_enum(&["TCP", "UDP"])
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Instance,
    Ip,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    Ipv4,
    Ipv6,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ServiceReference {
    /// Name of the Service, in the binding's namespace.
    pub name: String,
    /// A Service port: its number (`spec.ports[].port`) or its name.
    pub port: IntOrString,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Networking {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkingIngressRule>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkingIngressRule {
    pub from: Vec<NetworkingPeer>,
    pub ports: Vec<NetworkingPort>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroup>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct IpBlock {
    pub cidr: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecurityGroup {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkingPort {
    /// TCP (default) or UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "protocol_schema")]
    pub protocol: Option<NetworkingProtocol>,
    /// A port number or name; all ports of the protocol when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NetworkingProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` tells whether the target group holds exactly the Service's ready endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The target group the binding resolved to.
    #[serde(rename = "targetGroupARN", default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// Ready endpoints of the Service (the targets that should be registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_targets: Option<i32>,
    /// Targets registered in the group (not draining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_targets: Option<i32>,
    /// Registered targets ELB reports healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_targets: Option<i32>,
    /// Failed reconciles in a row; drives the retry backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<i32>,
}

impl TargetGroupBinding {
    pub fn target_type(&self) -> TargetType {
        self.spec.target_type.unwrap_or(TargetType::Instance)
    }
}

/// The CRD as YAML, as `tgbind-controller crd` prints it and the chart ships it.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&TargetGroupBinding::crd()).expect("CRD serializes")
}
