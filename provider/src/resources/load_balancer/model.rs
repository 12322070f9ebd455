//! Pure decisions for load balancers: cross-field validation, per-type defaults at plan time, the
//! attribute writes a plan needs, and the state that describes what AWS reports. No I/O here.

use std::collections::BTreeMap;

use crate::framework::tags::tags_from_remote;
use crate::framework::{Blocks, Diagnostics};
use crate::resources::values::arn_suffix;
use crate::resources::values::AttributeKind as Kind;
use crate::tfvalue::{AttributePath, Value};

/// A load balancer argument that is one load balancer attribute (ModifyLoadBalancerAttributes key).
/// The table below is the one place that says which types have it and what AWS starts with.
#[derive(Debug)]
pub struct Setting {
    /// The Terraform argument (as `aws_lb` names it).
    pub name: &'static str,
    /// The load balancer attribute key.
    pub key: &'static str,
    pub kind: Kind,
    /// The load balancer types that have the setting; the others ignore it, with a warning, as
    /// `aws_lb` does, and keep it in state as configured.
    pub types: &'static [&'static str],
    /// AWS's value on a new load balancer: planned when the configuration leaves it out, and read
    /// when AWS lists no value.
    pub default: &'static str,
}

impl Setting {
    fn value(&self, text: &str) -> Value {
        self.kind.value(text)
    }
    fn text(&self, v: &Value) -> Option<String> {
        self.kind.text(v)
    }
    fn applies_to(&self, kind: &str) -> bool {
        self.types.contains(&kind)
    }
}

const ALB: &[&str] = &["application"];
const NLB: &[&str] = &["network"];
const ALB_NLB: &[&str] = &["application", "network"];
/// An application load balancer always balances across zones.
const NLB_GWLB: &[&str] = &["network", "gateway"];

#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    Setting { name: "idle_timeout", key: "idle_timeout.timeout_seconds", kind: Kind::Int, types: ALB, default: "60" },
    Setting { name: "enable_http2", key: "routing.http2.enabled", kind: Kind::Bool, types: ALB, default: "true" },
    Setting { name: "drop_invalid_header_fields", key: "routing.http.drop_invalid_header_fields.enabled", kind: Kind::Bool, types: ALB, default: "false" },
    Setting { name: "desync_mitigation_mode", key: "routing.http.desync_mitigation_mode", kind: Kind::Str, types: ALB, default: "defensive" },
    Setting { name: "enable_waf_fail_open", key: "waf.fail_open.enabled", kind: Kind::Bool, types: ALB, default: "false" },
    Setting { name: "enable_xff_client_port", key: "routing.http.xff_client_port.enabled", kind: Kind::Bool, types: ALB, default: "false" },
    Setting { name: "xff_header_processing_mode", key: "routing.http.xff_header_processing.mode", kind: Kind::Str, types: ALB, default: "append" },
    Setting { name: "enable_tls_version_and_cipher_suite_headers", key: "routing.http.x_amzn_tls_version_and_cipher_suite.enabled", kind: Kind::Bool, types: ALB, default: "false" },
    Setting { name: "preserve_host_header", key: "routing.http.preserve_host_header.enabled", kind: Kind::Bool, types: ALB, default: "false" },
    Setting { name: "client_keep_alive", key: "client_keep_alive.seconds", kind: Kind::Int, types: ALB, default: "3600" },
    Setting { name: "enable_cross_zone_load_balancing", key: "load_balancing.cross_zone.enabled", kind: Kind::Bool, types: NLB_GWLB, default: "false" },
    Setting { name: "dns_record_client_routing_policy", key: "dns_record.client_routing_policy", kind: Kind::Str, types: NLB, default: "any_availability_zone" },
    Setting { name: "enable_zonal_shift", key: "zonal_shift.config.enabled", kind: Kind::Bool, types: ALB_NLB, default: "false" },
];

/// The log blocks and the attribute key prefix of each.
const LOG_BLOCKS: [(&str, &str); 2] = [("access_logs", "access_logs.s3"), ("connection_logs", "connection_logs.s3")];

/// The settings a load balancer of type `kind` does not have.
fn foreign_settings(kind: &str) -> impl Iterator<Item = &'static Setting> + '_ {
    SETTINGS.iter().filter(move |s| !s.applies_to(kind))
}

/// A state terraform-provider-aws wrote, as ours would hold it: `aws_lb` records settings of other
/// load balancer types and a `subnet_mapping` for every subnet even when the configuration lists
/// `subnets`; ours keeps those only when configured. Mappings with addresses stay (only
/// `subnet_mapping` can say those).
pub fn adopt_aws_provider_state(state: &mut Value) {
    let kind = lb_type(state).unwrap_or("application").to_string();
    for setting in foreign_settings(&kind) {
        state.set(setting.name, Value::Null);
    }
    let addressed = |m: &Value| {
        ["allocation_id", "private_ipv4_address", "ipv6_address"]
            .iter()
            .any(|k| m.get(k).as_str().is_some_and(|v| !v.is_empty()))
    };
    let mappings = state.get("subnet_mapping").elements();
    if !state.get("subnets").elements().is_empty() && !mappings.iter().any(addressed) {
        state.set("subnet_mapping", Value::Set(Vec::new()));
    }
}

fn lb_type(v: &Value) -> Option<&str> {
    match v.get("load_balancer_type") {
        Value::Null => Some("application"),
        t => t.as_str(),
    }
}

pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let at = AttributePath::attr;
    if config.get("name").is_set() && config.get("name_prefix").is_set() {
        diags.error_at(
            &at("name_prefix"),
            "Conflicting arguments",
            "Set `name` or `name_prefix`, not both.",
        );
    }
    if config.get("name").as_str().is_some_and(|n| n.starts_with("internal-")) {
        diags.error_at(&at("name"), "Invalid value", "A load balancer name cannot start with `internal-`.");
    }
    let subnets = config.get("subnets");
    let mappings = config.get("subnet_mapping");
    let has_subnets = !subnets.elements().is_empty() || subnets.is_unknown();
    let has_mappings = !mappings.elements().is_empty() || mappings.is_unknown();
    if has_subnets && has_mappings {
        diags.error_at(
            &at("subnets"),
            "Conflicting arguments",
            "Set `subnets` or `subnet_mapping` blocks, not both.",
        );
    } else if !has_subnets && !has_mappings {
        diags.error_at(
            &at("subnets"),
            "Missing subnets",
            "A load balancer needs `subnets` or `subnet_mapping` blocks.",
        );
    }
    let Some(kind) = lb_type(config) else { return };
    if kind == "application" && subnets.is_wholly_known() && has_subnets && subnets.elements().len() < 2 {
        diags.error_at(
            &at("subnets"),
            "Too few subnets",
            "An application load balancer needs subnets in at least two availability zones.",
        );
    }
    for setting in foreign_settings(kind) {
        let name = setting.name;
        if !config.get(name).is_null() {
            let owner = setting.types.join(" and ");
            diags.warning_at(
                &at(name),
                "Argument ignored for this load balancer type",
                format!("`{name}` applies to {owner} load balancers; this {kind} load balancer ignores it (as `aws_lb` does)."),
            );
        }
    }
    let private_link = "enforce_security_group_inbound_rules_on_private_link_traffic";
    if kind != "network" && config.get(private_link).is_set() {
        diags.error_at(
            &at(private_link),
            "Argument not allowed for this load balancer type",
            format!("`{private_link}` applies to network load balancers, not {kind} ones."),
        );
    }
    if kind != "application" && !config.get("connection_logs").elements().is_empty() {
        diags.warning_at(
            &at("connection_logs"),
            "Argument ignored for this load balancer type",
            format!("`connection_logs` applies to application load balancers; this {kind} load balancer ignores it."),
        );
    }
    if kind == "application" {
        for (i, m) in mappings.elements().iter().enumerate() {
            for name in ["allocation_id", "private_ipv4_address", "ipv6_address"] {
                if m.get(name).is_set() {
                    diags.error_at(
                        &at("subnet_mapping").index(i).child(name),
                        "Argument not allowed for this load balancer type",
                        format!("`{name}` applies to network load balancers."),
                    );
                }
            }
        }
    }
}

/// Known plan values for settings whose default depends on the type: the plan shows `60`, not
/// "known after apply", and the other types' settings stay null.
pub fn plan_type_defaults(config: &Value, planned: &mut Value) {
    let Some(kind) = lb_type(config) else { return };
    for setting in SETTINGS {
        if config.get(setting.name).is_null() {
            let default = if setting.applies_to(kind) {
                setting.value(setting.default)
            } else {
                Value::Null
            };
            planned.set(setting.name, default);
        }
    }
}

/// A network load balancer cannot leave subnets in place: changing them replaces it.
pub fn replace_triggers(prior: &Value, proposed: &Value) -> Vec<AttributePath> {
    let network = prior.get("load_balancer_type").as_str() == Some("network");
    let subnets = proposed.get("subnets");
    if network && subnets.is_wholly_known() && !subnets.elements().is_empty() && subnets != prior.get("subnets") {
        vec![AttributePath::attr("subnets")]
    } else {
        Vec::new()
    }
}

/// Load balancer attributes (ModifyLoadBalancerAttributes keys) that describe `planned`; settings
/// its type does not have are left out.
pub fn desired_attributes(planned: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let kind = lb_type(planned).unwrap_or("application");
    if let Some(b) = planned.get("enable_deletion_protection").as_bool() {
        out.insert("deletion_protection.enabled".to_string(), b.to_string());
    }
    for setting in SETTINGS.iter().filter(|s| s.applies_to(kind)) {
        if let Some(text) = setting.text(planned.get(setting.name)) {
            out.insert(setting.key.to_string(), text);
        }
    }
    // A logs block that is absent is not managed here: logging stays as it is (off on a new load
    // balancer), see `Schema::keeps_blocks`.
    for (block, prefix) in LOG_BLOCKS {
        let logs = planned.first_block(block);
        if !logs.is_set() || (block == "connection_logs" && kind != "application") {
            continue;
        }
        let enabled = logs.get("enabled").as_bool().unwrap_or(true).to_string();
        out.insert(format!("{prefix}.enabled"), enabled);
        out.insert(
            format!("{prefix}.bucket"),
            logs.get("bucket").as_str().unwrap_or_default().to_string(),
        );
        out.insert(
            format!("{prefix}.prefix"),
            logs.get("prefix").as_str().unwrap_or_default().to_string(),
        );
    }
    out
}

/// One availability zone of a load balancer as AWS reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteZone {
    pub subnet_id: String,
    pub allocation_id: Option<String>,
    pub private_ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteLoadBalancer {
    pub arn: String,
    pub name: String,
    pub kind: String,
    pub scheme: String,
    pub state: String,
    pub dns_name: Option<String>,
    pub zone_id: Option<String>,
    pub vpc_id: Option<String>,
    pub ip_address_type: Option<String>,
    pub security_groups: Vec<String>,
    /// `on`/`off` on network load balancers with security groups; not every endpoint reports it.
    pub enforce_private_link: Option<String>,
    pub zones: Vec<RemoteZone>,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// The state (or data source value) for a remote load balancer. `prior` decides which optional
/// blocks the user manages; on import, `blocks` decides (see [`Blocks`]).
pub fn state_from_remote(remote: &RemoteLoadBalancer, prior: &Value, default_tags: &BTreeMap<String, String>, blocks: Blocks) -> Value {
    let attr = |k: &str| remote.attributes.get(k).map(String::as_str);
    let attr_bool = |k: &str, default: bool| attr(k).map_or(default, |v| v == "true");
    let logs = |block: &str, prefix: &str| {
        let logs_on = attr_bool(&format!("{prefix}.enabled"), false);
        let bucket = attr(&format!("{prefix}.bucket")).filter(|b| !b.is_empty());
        let in_prior = prior.first_block(block).is_set();
        // Logs that are off and never had a bucket have nothing a block could say (`bucket` is
        // required).
        if !blocks.show(in_prior, logs_on) || !(in_prior || logs_on || bucket.is_some()) {
            return Value::List(Vec::new());
        }
        let key_prefix = attr(&format!("{prefix}.prefix")).filter(|p| !p.is_empty());
        Value::List(vec![Value::object([
            ("bucket", Value::opt_string(bucket)),
            (
                "prefix",
                key_prefix.map_or(prior.first_block(block).get("prefix").clone(), Value::string),
            ),
            ("enabled", Value::Bool(logs_on)),
        ])])
    };
    let mappings = if prior.get("subnet_mapping").elements().is_empty() {
        Vec::new()
    } else {
        remote
            .zones
            .iter()
            .map(|z| {
                Value::object([
                    ("subnet_id", Value::string(&z.subnet_id)),
                    ("allocation_id", Value::opt_string(z.allocation_id.clone())),
                    ("private_ipv4_address", Value::opt_string(z.private_ipv4_address.clone())),
                    ("ipv6_address", Value::opt_string(z.ipv6_address.clone())),
                ])
            })
            .collect()
    };
    let mut state = Value::object([
        ("arn", Value::string(&remote.arn)),
        ("id", Value::string(&remote.arn)),
        ("arn_suffix", Value::string(arn_suffix(&remote.arn))),
        ("dns_name", Value::opt_string(remote.dns_name.clone())),
        ("zone_id", Value::opt_string(remote.zone_id.clone())),
        ("vpc_id", Value::opt_string(remote.vpc_id.clone())),
        // A configured `name = ""` stays `""` where Terraform needs the plan kept as written.
        (
            "name",
            if prior.get("name").as_str() == Some("") {
                Value::string("")
            } else {
                Value::string(&remote.name)
            },
        ),
        ("name_prefix", prior.get("name_prefix").clone()),
        ("load_balancer_type", Value::string(&remote.kind)),
        ("internal", Value::Bool(remote.scheme == "internal")),
        ("subnets", Value::string_set(remote.zones.iter().map(|z| z.subnet_id.clone()))),
        ("security_groups", Value::string_set(remote.security_groups.clone())),
        (
            "enforce_security_group_inbound_rules_on_private_link_traffic",
            match &remote.enforce_private_link {
                Some(v) if remote.kind == "network" => Value::string(v),
                // Where AWS says nothing the configured value stands.
                _ => prior.get("enforce_security_group_inbound_rules_on_private_link_traffic").clone(),
            },
        ),
        ("ip_address_type", Value::opt_string(remote.ip_address_type.clone())),
        (
            "enable_deletion_protection",
            Value::Bool(attr_bool("deletion_protection.enabled", false)),
        ),
        ("tags", tags_from_remote(&remote.tags, default_tags, prior.get("tags"))),
        ("tags_all", Value::string_map(remote.tags.clone())),
        ("access_logs", logs("access_logs", "access_logs.s3")),
        ("connection_logs", logs("connection_logs", "connection_logs.s3")),
        ("subnet_mapping", Value::Set(mappings)),
        ("timeouts", prior.get("timeouts").clone()),
    ]);
    for setting in SETTINGS {
        // A setting the type does not have stays as configured (null unless the user set it).
        let value = if setting.applies_to(&remote.kind) {
            setting.value(attr(setting.key).unwrap_or(setting.default))
        } else {
            prior.get(setting.name).clone()
        };
        state.set(setting.name, value);
    }
    state
}

/// The data source's value: the balancer with every tag, and access logs whenever they are on.
pub fn data_source_state(remote: &RemoteLoadBalancer) -> Value {
    let mut value = state_from_remote(remote, &Value::Null, &Default::default(), Blocks::SwitchedOn);
    if let Value::Object(m) = &mut value {
        m.remove("name_prefix");
        m.remove("tags_all");
        m.remove("timeouts");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_at(config: &Value) -> Vec<String> {
        Diagnostics::paths_of(validate, config)
    }

    #[test]
    fn settings_are_planned_written_and_read_for_their_types_only() {
        let alb_config = Value::object([
            ("load_balancer_type", "application".into()),
            ("client_keep_alive", Value::int(7200)),
        ]);
        let mut planned = alb_config.clone();
        plan_type_defaults(&alb_config, &mut planned);
        assert_eq!(planned.get("desync_mitigation_mode"), &Value::string("defensive"));
        assert_eq!(planned.get("client_keep_alive").as_i64(), Some(7200));
        assert_eq!(planned.get("dns_record_client_routing_policy"), &Value::Null, "an NLB setting");
        let written = desired_attributes(&planned);
        assert_eq!(written["client_keep_alive.seconds"], "7200");
        assert_eq!(written["routing.http.xff_header_processing.mode"], "append");
        assert!(!written.contains_key("dns_record.client_routing_policy"));
        assert!(!written.contains_key("access_logs.s3.enabled"), "no block: logging left as it is");

        let nlb = RemoteLoadBalancer {
            kind: "network".into(),
            attributes: BTreeMap::from([("dns_record.client_routing_policy".into(), "availability_zone_affinity".into())]),
            ..Default::default()
        };
        let prior = Value::object([("idle_timeout", Value::int(30))]);
        let state = state_from_remote(&nlb, &prior, &BTreeMap::new(), Blocks::AsPrior);
        assert_eq!(
            state.get("dns_record_client_routing_policy"),
            &Value::string("availability_zone_affinity")
        );
        assert_eq!(
            state.get("enable_zonal_shift"),
            &Value::Bool(false),
            "AWS's default where it reports none"
        );
        assert_eq!(state.get("idle_timeout").as_i64(), Some(30), "an ALB setting stays as configured");
    }

    #[test]
    fn type_specific_arguments_are_checked() {
        let alb = Value::object([
            ("subnets", Value::string_set(["a", "b"])),
            ("enable_cross_zone_load_balancing", true.into()),
        ]);
        let warnings = |config: &Value| {
            let mut d = Diagnostics::new();
            validate(config, &mut d);
            (d.error_paths(), d.warning_paths())
        };
        assert_eq!(warnings(&alb), (vec![], vec!["enable_cross_zone_load_balancing".to_string()]));
        let nlb = Value::object([
            ("load_balancer_type", "network".into()),
            ("subnets", Value::string_set(["a"])),
            ("idle_timeout", Value::int(30)),
        ]);
        assert_eq!(warnings(&nlb), (vec![], vec!["idle_timeout".to_string()]));
        assert!(!desired_attributes(&nlb).contains_key("idle_timeout.timeout_seconds"));
        let one_subnet = Value::object([("subnets", Value::string_set(["a"]))]);
        assert_eq!(errors_at(&one_subnet), ["subnets"]);
        assert_eq!(errors_at(&Value::object([("subnets", Value::Unknown)])), Vec::<String>::new());
        assert_eq!(errors_at(&Value::object([("name", "x".into())])), ["subnets"]);
    }

    #[test]
    fn defaults_follow_type() {
        let mut planned = Value::object([
            ("idle_timeout", Value::Unknown),
            ("enable_cross_zone_load_balancing", Value::Unknown),
        ]);
        plan_type_defaults(&Value::object([("load_balancer_type", "network".into())]), &mut planned);
        assert_eq!(planned.get("idle_timeout"), &Value::Null);
        assert_eq!(planned.get("enable_cross_zone_load_balancing"), &Value::Bool(false));
        let mut planned = Value::object([("idle_timeout", Value::Unknown)]);
        plan_type_defaults(&Value::object([("idle_timeout", Value::int(30))]), &mut planned);
        assert_eq!(
            planned.get("idle_timeout"),
            &Value::Unknown,
            "configured values are left to the framework"
        );
    }

    #[test]
    fn network_subnet_changes_replace() {
        let prior = Value::object([("load_balancer_type", "network".into()), ("subnets", Value::string_set(["a"]))]);
        let same = prior.clone();
        assert!(replace_triggers(&prior, &same).is_empty());
        let moved = Value::object([("subnets", Value::string_set(["a", "b"]))]);
        assert_eq!(replace_triggers(&prior, &moved), vec![AttributePath::attr("subnets")]);
        let alb = Value::object([("load_balancer_type", "application".into()), ("subnets", Value::string_set(["a"]))]);
        assert!(replace_triggers(&alb, &moved).is_empty());
    }

    #[test]
    fn state_hides_the_other_types_settings() {
        let remote = RemoteLoadBalancer {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/n/1".into(),
            name: "n".into(),
            kind: "network".into(),
            scheme: "internal".into(),
            zones: vec![RemoteZone {
                subnet_id: "s-1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let s = state_from_remote(&remote, &Value::Null, &BTreeMap::new(), Blocks::SwitchedOn);
        assert_eq!(s.get("arn_suffix"), &Value::string("net/n/1"));
        assert_eq!(s.get("idle_timeout"), &Value::Null);
        assert_eq!(s.get("enable_cross_zone_load_balancing"), &Value::Bool(false));
        assert_eq!(s.get("internal"), &Value::Bool(true));
        assert_eq!(s.get("subnets"), &Value::string_set(["s-1"]));
    }
}
