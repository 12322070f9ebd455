//! The TargetGroupBinding custom resource, wire-compatible with the AWS Load Balancer Controller's
//! `elbv2.k8s.aws` CRD: every field of its `v1beta1` (storage) and `v1alpha1` versions, with the same
//! types, enums, list/map markers and optionality, so manifests written for it apply unchanged. The
//! status adds what users asked for (conditions, target counts, the effective settings) without
//! changing any existing field; the controller never depends on those additions, because with the
//! LBC's CRD installed the API server prunes them.
//!
//! The CRD is generated from these types and then finished by hand (`crd()`): the LBC's printer
//! columns and v1alpha1, explicit `minLength`/`pattern`/`enum` limits that hold on every API server
//! version, and CEL rules (`x-kubernetes-validations`) that newer API servers enforce at
//! `kubectl apply` and older ones ignore; `validation` checks the same rules in the controller.

use std::borrow::Cow;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const GROUP: &str = "elbv2.k8s.aws";
pub const VERSION: &str = "v1beta1";
pub const KIND: &str = "TargetGroupBinding";
pub const PLURAL: &str = "targetgroupbindings";
pub const FINALIZER: &str = "elbv2.k8s.aws/resources";
pub const READY: &str = "Ready";

/// A TargetGroupBinding. `spec` is optional on the wire, as in the LBC's schema: an object without
/// one reads as an empty spec (which validation then refuses) instead of breaking the watch.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TargetGroupBinding {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TargetGroupBindingSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TargetGroupBindingStatus>,
}

impl Serialize for TargetGroupBinding {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut obj = ser.serialize_struct(KIND, 5)?;
        obj.serialize_field("apiVersion", &format!("{GROUP}/{VERSION}"))?;
        obj.serialize_field("kind", KIND)?;
        obj.serialize_field("metadata", &self.metadata)?;
        obj.serialize_field("spec", &self.spec)?;
        if let Some(status) = &self.status {
            obj.serialize_field("status", status)?;
        }
        obj.end()
    }
}

impl kube::Resource for TargetGroupBinding {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        PLURAL.into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl kube::CustomResourceExt for TargetGroupBinding {
    fn crd() -> CustomResourceDefinition {
        crd()
    }
    fn crd_name() -> &'static str {
        "targetgroupbindings.elbv2.k8s.aws"
    }
    fn api_resource() -> kube::core::ApiResource {
        kube::core::ApiResource::erase::<TargetGroupBinding>(&())
    }
    fn shortnames() -> &'static [&'static str] {
        &["tgb"]
    }
}

impl TargetGroupBinding {
    /// A binding with this name and spec, in no namespace yet.
    pub fn new(name: &str, spec: TargetGroupBindingSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            spec,
            status: None,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// The target group's ARN. Either this or targetGroupName is required; the ARN wins when both
    /// are set.
    #[serde(rename = "targetGroupARN", default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// The target group's name, resolved to its ARN in the controller's region (or the assumed
    /// role's account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    /// How endpoints are registered: `ip` (pod IPs) or `instance` (node instance IDs at the
    /// Service's NodePort). Taken from the target group when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "target_type_schema")]
    pub target_type: Option<TargetType>,
    /// The Service whose endpoints are registered.
    #[serde(default)]
    pub service_ref: ServiceReference,
    /// Security-group rules that let the load balancer reach the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    /// For instance targets: the nodes to register (besides the default exclusions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "node_selector_schema")]
    pub node_selector: Option<LabelSelector>,
    /// `ipv4` or `ipv6`. Taken from the target group when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ip_address_type_schema")]
    pub ip_address_type: Option<IpAddressType>,
    /// The VPC of the target group. Taken from the target group when left out; checked against it
    /// when set.
    #[serde(rename = "vpcID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "vpc_id_schema")]
    pub vpc_id: Option<String>,
    /// The target group's protocol. Taken from the target group when left out; checked against it
    /// when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "protocol_schema")]
    pub target_group_protocol: Option<String>,
    /// Other clusters register targets in the same group: only targets this cluster recorded are
    /// ever deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cluster_target_group: Option<bool>,
    /// An IAM role to assume for every AWS call about this binding's target group (a group in
    /// another account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn_to_assume: Option<String>,
    /// The external ID the role's trust policy asks for (the confused-deputy guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_external_id: Option<String>,
}

/// The LBC's target group protocols.
pub const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC"];

/// VPC IDs as the LBC accepts them: `vpc-` and 8, 17 or 32 lower-case hex digits.
pub const VPC_ID_PATTERN: &str = "^(vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17}|vpc-[0-9a-f]{32})$";

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
    string_enum(PROTOCOLS)
}
fn networking_protocol_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_enum(&["TCP", "UDP"])
}
fn vpc_id_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "pattern": VPC_ID_PATTERN })
}
/// A LabelSelector as the LBC's CRD has it: atomic map and lists (server-side apply replaces it
/// whole), and here also the operators and values that make a selector valid. The string limits
/// are those of label keys and values (so no valid selector is refused); they keep the estimated
/// cost of the per-expression CEL rule small, which API servers check when the CRD is applied.
fn node_selector_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchExpressions": {
                "type": "array",
                "x-kubernetes-list-type": "atomic",
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": { "type": "string", "minLength": 1, "maxLength": 317 },
                        "operator": { "type": "string", "maxLength": 12, "enum": ["In", "NotIn", "Exists", "DoesNotExist"] },
                        "values": {
                            "type": "array",
                            "x-kubernetes-list-type": "atomic",
                            "items": { "type": "string", "maxLength": 63 },
                        },
                    },
                    "x-kubernetes-validations": [{
                        "rule": "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
                        "message": "In and NotIn need values; Exists and DoesNotExist take none",
                    }],
                },
            },
            "matchLabels": { "type": "object", "additionalProperties": { "type": "string" } },
        },
    })
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Instance,
    Ip,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Ip => "ip",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    Ipv4,
    Ipv6,
}

impl IpAddressType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ServiceReference {
    /// Name of the Service, in the binding's namespace.
    #[schemars(length(min = 1))]
    pub name: String,
    /// A Service port: its number (`spec.ports[].port`) or its name, never the target port.
    pub port: IntOrString,
}

impl Default for ServiceReference {
    fn default() -> Self {
        Self {
            name: String::new(),
            port: IntOrString::Int(0),
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Networking {
    /// Ingress rules that let the load balancer reach the targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkingIngressRule>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkingIngressRule {
    /// Peers that may reach the targets.
    pub from: Vec<NetworkingPeer>,
    /// Ports to open on the targets; every TCP port when empty.
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
    /// An IPv4 or IPv6 CIDR.
    pub cidr: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecurityGroup {
    /// The EC2 security group ID.
    #[serde(rename = "groupID")]
    pub group_id: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkingPort {
    /// TCP (default) or UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "networking_protocol_schema")]
    pub protocol: Option<NetworkingProtocol>,
    /// A port number or (ip targets) a named container port; every port of the protocol when absent.
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
    /// The generation this status describes (the only status field of the LBC's CRD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` tells whether the target group holds exactly the Service's ready endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The target group the binding resolved to.
    #[serde(rename = "targetGroupARN", default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// The target type in effect (the spec's, or the target group's when the spec has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// The IP address type in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// The target group's VPC.
    #[serde(rename = "vpcID", default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The target group's protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_protocol: Option<String>,
    /// Ready endpoints of the Service (the targets that should be registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_targets: Option<i32>,
    /// Targets registered in the group (not draining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_targets: Option<i32>,
    /// Registered targets ELB reports healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_targets: Option<i32>,
    /// Failed reconciles in a row (shown; the controller keeps its own count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<i32>,
}

/// `status.conditions` with the standard `metav1.Condition` constraints, a map keyed by `type`.
fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "lastTransitionTime": { "type": "string", "format": "date-time" },
                "message": { "type": "string", "maxLength": 32768 },
                "observedGeneration": { "type": "integer", "format": "int64", "minimum": 0 },
                "reason": {
                    "type": "string", "minLength": 1, "maxLength": 1024,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
                },
                "status": { "type": "string", "enum": ["True", "False", "Unknown"] },
                "type": {
                    "type": "string", "maxLength": 316,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                },
            },
        },
    })
}

impl TargetGroupBinding {
    /// The target type the spec names (the effective one may come from the target group).
    pub fn spec_target_type(&self) -> Option<TargetType> {
        self.spec.target_type
    }
}

/// Spec fields the LBC's v1alpha1 does not have.
const BETA_ONLY: &[&str] = &["ipAddressType", "nodeSelector", "targetGroupProtocol", "vpcID"];

/// CEL rules on `spec`. Transition rules (`oldSelf`) make the fields that pick the target group and
/// shape its targets immutable once set; the controller checks the same (see `validation`).
fn spec_rules() -> Value {
    let immutable = |field: &str| {
        json!({
            "rule": format!("!has(oldSelf.{field}) || (has(self.{field}) && self.{field} == oldSelf.{field})"),
            "message": format!("{field} cannot change or be removed once set; create a new TargetGroupBinding instead"),
        })
    };
    json!([
        {
            "rule": "(has(self.targetGroupARN) && self.targetGroupARN != '') || (has(self.targetGroupName) && self.targetGroupName != '')",
            "message": "set targetGroupARN or targetGroupName",
        },
        {
            "rule": "!has(self.nodeSelector) || !has(self.targetType) || self.targetType != 'ip'",
            "message": "nodeSelector applies to instance targets only",
        },
        {
            "rule": "!has(self.iamRoleArnToAssume) || self.iamRoleArnToAssume == '' || !has(self.targetType) || self.targetType != 'instance'",
            "message": "iamRoleArnToAssume works with ip targets only (instances belong to the cluster's account)",
        },
        immutable("targetGroupARN"),
        immutable("targetGroupName"),
        immutable("targetType"),
        immutable("ipAddressType"),
        immutable("vpcID"),
    ])
}

/// Removes `nullable: true` and `default` everywhere: the LBC's schema has optional fields, never
/// nullable ones, and no defaults (the Rust types default what is missing only so that an
/// incomplete object can never break a watch).
fn strip_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("nullable");
            m.remove("default");
            m.values_mut().for_each(strip_nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}

/// The openAPIV3 schema of a type, as kube's derive would generate it (structural, inlined).
fn schema_of<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator();
    let mut schema = serde_json::to_value(generator.into_root_schema_for::<T>()).expect("schema serializes");
    if let Value::Object(m) = &mut schema {
        m.remove("$schema");
        m.remove("title");
    }
    strip_nullable(&mut schema);
    schema
}

fn printer_columns() -> Value {
    json!([
        { "name": "SERVICE-NAME", "type": "string", "jsonPath": ".spec.serviceRef.name", "description": "The Kubernetes Service's name" },
        { "name": "SERVICE-PORT", "type": "string", "jsonPath": ".spec.serviceRef.port", "description": "The Kubernetes Service's port" },
        { "name": "TARGET-TYPE", "type": "string", "jsonPath": ".status.targetType", "description": "The target type in effect (the spec's or the target group's)" },
        { "name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status" },
        { "name": "TARGETS", "type": "integer", "jsonPath": ".status.registeredTargets", "description": "Targets registered by this binding" },
        { "name": "HEALTHY", "type": "integer", "jsonPath": ".status.healthyTargets", "description": "Registered targets ELB reports healthy" },
        { "name": "REASON", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "priority": 1 },
        { "name": "ARN", "type": "string", "jsonPath": ".spec.targetGroupARN", "priority": 1, "description": "The AWS TargetGroup's Amazon Resource Name" },
        { "name": "NAME", "type": "string", "jsonPath": ".spec.targetGroupName", "priority": 2, "description": "The AWS TargetGroup's Name" },
        { "name": "IP-TYPE", "type": "string", "jsonPath": ".status.ipAddressType", "priority": 1, "description": "The IP address type in effect" },
        { "name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp" },
    ])
}

/// The finished CRD: v1beta1 (storage) and v1alpha1, both served.
pub fn crd() -> CustomResourceDefinition {
    let mut spec = schema_of::<TargetGroupBindingSpec>();
    spec["description"] = json!("TargetGroupBindingSpec defines the desired state of TargetGroupBinding");
    spec["required"] = json!(["serviceRef"]);
    spec["x-kubernetes-validations"] = spec_rules();
    let mut status = schema_of::<TargetGroupBindingStatus>();
    status["description"] = json!("TargetGroupBindingStatus defines the observed state of TargetGroupBinding");
    let root = |spec: &Value| {
        json!({
            "description": "TargetGroupBinding binds a Service's endpoints to an AWS target group",
            "type": "object",
            "properties": {
                "apiVersion": { "type": "string" },
                "kind": { "type": "string" },
                "metadata": { "type": "object" },
                "spec": spec,
                "status": status,
            },
        })
    };
    let mut alpha_spec = spec.clone();
    if let Some(props) = alpha_spec["properties"].as_object_mut() {
        for field in BETA_ONLY {
            props.remove(*field);
        }
    }
    if let Some(rules) = alpha_spec["x-kubernetes-validations"].as_array_mut() {
        rules.retain(|r| {
            let rule = r["rule"].as_str().unwrap_or_default();
            !BETA_ONLY.iter().any(|f| rule.contains(&format!("self.{f}")))
        });
    }
    let version = |name: &str, storage: bool, spec: &Value| {
        json!({
            "name": name,
            "served": true,
            "storage": storage,
            "additionalPrinterColumns": printer_columns(),
            "schema": { "openAPIV3Schema": root(spec) },
            "subresources": { "status": {} },
        })
    };
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "targetgroupbindings.elbv2.k8s.aws" },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": "TargetGroupBindingList",
                "plural": PLURAL,
                "singular": "targetgroupbinding",
                "shortNames": ["tgb"],
            },
            "scope": "Namespaced",
            "versions": [version("v1beta1", true, &spec), version("v1alpha1", false, &alpha_spec)],
        },
    });
    serde_json::from_value(crd).expect("the CRD is a CustomResourceDefinition")
}

/// The CRD as YAML, as `tgbind-controller crd` prints it and the chart ships it.
pub fn crd_yaml() -> String {
    serde_yaml::to_string(&crd()).expect("CRD serializes")
}

#[cfg(test)]
mod tests {
    //! Every CEL rule of the CRD, evaluated with a CEL evaluator (API servers without CEL never
    //! run them, so this is where they are proven).
    use super::*;
    use kube_cel::{compile_schema, estimate_rule_cost, Validator};

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn spec_schema(version: &str) -> Value {
        let crd = serde_json::to_value(crd()).unwrap();
        let versions = crd["spec"]["versions"].as_array().unwrap();
        let v = versions.iter().find(|v| v["name"] == version).unwrap();
        v["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
    }

    /// The messages of the rules `spec` breaks (on update when `old` is given).
    fn broken(spec: Value, old: Option<Value>) -> Vec<String> {
        broken_in("v1beta1", spec, old)
    }

    fn broken_in(version: &str, spec: Value, old: Option<Value>) -> Vec<String> {
        match Validator::new().validate(&spec_schema(version), &spec, old.as_ref()) {
            Ok(()) => vec![],
            Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
        }
    }

    fn base() -> Value {
        json!({ "targetGroupARN": ARN, "serviceRef": { "name": "web", "port": 80 } })
    }

    fn with(fields: Value) -> Value {
        let mut spec = base();
        for (k, v) in fields.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    }

    #[test]
    fn every_rule_compiles_and_stays_within_the_cost_budget() {
        for version in ["v1beta1", "v1alpha1"] {
            let schema = spec_schema(version);
            let compiled = compile_schema(&schema);
            assert!(!compiled.has_errors(), "{version}: {:?}", compiled.compilation_errors());
            let mut rules = vec![];
            collect_rules(&schema, &mut rules);
            assert!(rules.len() >= 4, "{version} has {} rules", rules.len());
            for rule in rules {
                let warnings = estimate_rule_cost(&rule, &compiled);
                assert!(warnings.is_empty(), "{version}: {rule}: {warnings:?}");
            }
        }
    }

    fn collect_rules(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(rules) = m.get("x-kubernetes-validations").and_then(Value::as_array) {
                    out.extend(rules.iter().filter_map(|r| r["rule"].as_str().map(String::from)));
                }
                m.values().for_each(|v| collect_rules(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect_rules(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_lbc_doc_shapes_pass() {
        assert_eq!(broken(base(), None), Vec::<String>::new());
        let by_name = json!({ "targetGroupName": "web", "serviceRef": { "name": "web", "port": "http" } });
        assert_eq!(broken(by_name, None), Vec::<String>::new());
        let instance = with(json!({ "targetType": "instance", "nodeSelector": { "matchLabels": { "pool": "a" } } }));
        assert_eq!(broken(instance, None), Vec::<String>::new());
        let cross_account = with(json!({
            "targetType": "ip", "iamRoleArnToAssume": "arn:aws:iam::999999999999:role/tgb", "assumeRoleExternalId": "x",
        }));
        assert_eq!(broken(cross_account, None), Vec::<String>::new());
        assert_eq!(
            broken_in("v1alpha1", with(json!({ "targetType": "ip" })), None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_binding_must_name_its_target_group() {
        let none = json!({ "serviceRef": { "name": "web", "port": 80 } });
        assert_eq!(broken(none, None), ["set targetGroupARN or targetGroupName"]);
        let empty = json!({ "targetGroupARN": "", "targetGroupName": "", "serviceRef": { "name": "web", "port": 80 } });
        assert_eq!(broken(empty.clone(), None), ["set targetGroupARN or targetGroupName"]);
        assert_eq!(broken_in("v1alpha1", empty, None), ["set targetGroupARN or targetGroupName"]);
    }

    #[test]
    fn ip_targets_take_no_node_selector() {
        let spec = with(json!({ "targetType": "ip", "nodeSelector": { "matchLabels": { "a": "b" } } }));
        assert_eq!(broken(spec, None), ["nodeSelector applies to instance targets only"]);
        // Without a target type the controller decides, once it knows the group's.
        let inferred = with(json!({ "nodeSelector": { "matchLabels": { "a": "b" } } }));
        assert_eq!(broken(inferred, None), Vec::<String>::new());
    }

    #[test]
    fn an_assumed_role_is_for_ip_targets() {
        let spec = with(json!({ "targetType": "instance", "iamRoleArnToAssume": "arn:aws:iam::999999999999:role/tgb" }));
        assert_eq!(broken(spec, None).len(), 1);
        let empty_role = with(json!({ "targetType": "instance", "iamRoleArnToAssume": "" }));
        assert_eq!(broken(empty_role, None), Vec::<String>::new());
    }

    #[test]
    fn selector_expressions_need_values_exactly_when_the_operator_does() {
        let expr = |e: Value| with(json!({ "targetType": "instance", "nodeSelector": { "matchExpressions": [e] } }));
        let message = "In and NotIn need values; Exists and DoesNotExist take none";
        assert_eq!(broken(expr(json!({ "key": "a", "operator": "In" })), None), [message]);
        assert_eq!(
            broken(expr(json!({ "key": "a", "operator": "NotIn", "values": [] })), None),
            [message]
        );
        assert_eq!(
            broken(expr(json!({ "key": "a", "operator": "Exists", "values": ["x"] })), None),
            [message]
        );
        for ok in [
            json!({ "key": "a", "operator": "In", "values": ["x"] }),
            json!({ "key": "a", "operator": "Exists" }),
            json!({ "key": "a", "operator": "DoesNotExist", "values": [] }),
        ] {
            assert_eq!(broken(expr(ok.clone()), None), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn the_fields_that_pick_the_group_and_its_targets_are_immutable() {
        let cases = [
            ("targetGroupARN", json!(ARN), json!(ARN.replace("web", "api"))),
            ("targetGroupName", json!("web"), json!("api")),
            ("targetType", json!("ip"), json!("instance")),
            ("ipAddressType", json!("ipv4"), json!("ipv6")),
            ("vpcID", json!("vpc-0123456789abcdef0"), json!("vpc-0123456789abcdef1")),
        ];
        for (field, before, after) in cases {
            let old = with(json!({ field: before }));
            let message = format!("{field} cannot change or be removed once set; create a new TargetGroupBinding instead");
            assert_eq!(
                broken(with(json!({ field: after })), Some(old.clone())),
                vec![message.clone()],
                "{field} changed"
            );
            let mut removed = old.clone();
            removed.as_object_mut().unwrap().remove(field);
            if field == "targetGroupARN" {
                removed["targetGroupName"] = json!("web");
            }
            assert_eq!(broken(removed, Some(old.clone())), [message], "{field} removed");
            // Unchanged, or set where it was absent (the value the controller inferred), is fine.
            assert_eq!(broken(old.clone(), Some(old.clone())), Vec::<String>::new(), "{field} unchanged");
            let mut unset = old.clone();
            unset.as_object_mut().unwrap().remove(field);
            if field == "targetGroupARN" {
                unset["targetGroupName"] = json!("web");
            }
            let mut added = unset.clone();
            added[field] = before;
            assert_eq!(broken(added, Some(unset)), Vec::<String>::new(), "{field} added");
        }
    }

    #[test]
    fn other_fields_may_change() {
        let old = with(json!({ "targetType": "instance", "nodeSelector": { "matchLabels": { "a": "b" } } }));
        let new = with(json!({
            "targetType": "instance", "nodeSelector": { "matchLabels": { "a": "c" } },
            "multiClusterTargetGroup": true, "serviceRef": { "name": "other", "port": "https" },
            "networking": { "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/8" } }], "ports": [] }] },
        }));
        assert_eq!(broken(new, Some(old)), Vec::<String>::new());
    }

    #[test]
    fn v1alpha1_has_no_beta_fields_and_no_rules_about_them() {
        let schema = spec_schema("v1alpha1");
        for field in BETA_ONLY {
            assert!(schema["properties"].get(*field).is_none(), "{field}");
        }
        let mut rules = vec![];
        collect_rules(&schema, &mut rules);
        assert!(rules.iter().all(|r| BETA_ONLY.iter().all(|f| !r.contains(f))), "{rules:?}");
    }

    #[test]
    fn optional_fields_are_not_nullable_and_empty_strings_are_limited_explicitly() {
        let text = serde_json::to_string(&crd()).unwrap();
        assert!(!text.contains("nullable"));
        let spec = spec_schema("v1beta1");
        assert_eq!(spec["properties"]["serviceRef"]["properties"]["name"]["minLength"], 1);
        assert_eq!(spec["required"], json!(["serviceRef"]));
        assert_eq!(spec["properties"]["nodeSelector"]["x-kubernetes-map-type"], "atomic");
        let protocols = spec["properties"]["targetGroupProtocol"]["enum"].as_array().unwrap();
        assert!(protocols.contains(&json!("QUIC")) && protocols.contains(&json!("TCP_QUIC")));
    }
}
