//! Pure decisions for target groups: cross-field validation, the attribute writes a plan needs,
//! and the Terraform state that describes what AWS reports. No I/O here.

use std::collections::BTreeMap;

use tgbind_aws::{HealthState, TargetHealth};

use crate::framework::tags::tags_from_remote;
use crate::framework::{Blocks, Diagnostics};
use crate::resources::values::{arn_suffix, i32_of, str_of};
use crate::tfvalue::{AttributePath, Value};

const HTTP_PROTOCOLS: &[&str] = &["HTTP", "HTTPS"];
const L4_PROTOCOLS: &[&str] = &["TCP", "TLS", "UDP", "TCP_UDP"];
/// The nested blocks of `target_group_health` and their attribute key prefixes.
const HEALTH_THRESHOLDS: [(&str, &str); 2] = [
    ("dns_failover", "target_group_health.dns_failover"),
    ("unhealthy_state_routing", "target_group_health.unhealthy_state_routing"),
];

/// Rules across attributes, each reported at the attribute at fault. Unknown values pass.
pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let at = AttributePath::attr;
    let target_type = config.get("target_type").as_str().unwrap_or("instance");
    let protocol = config.get("protocol").as_str();
    let lambda = target_type == "lambda";

    for name in ["port", "protocol", "vpc_id"] {
        let v = config.get(name);
        if lambda && v.is_set() {
            diags.error_at(
                &at(name),
                "Argument not allowed for lambda targets",
                format!("`{name}` must not be set when `target_type` is \"lambda\"."),
            );
        }
        if !lambda && config.get("target_type").is_wholly_known() && v.is_null() {
            diags.error_at(
                &at(name),
                "Missing required argument",
                format!("`{name}` is required when `target_type` is {target_type:?}."),
            );
        }
    }
    if config.get("name").is_set() && config.get("name_prefix").is_set() {
        diags.error_at(
            &at("name_prefix"),
            "Conflicting arguments",
            "Set `name` or `name_prefix`, not both.",
        );
    }
    if config.get("lambda_multi_value_headers_enabled").as_bool() == Some(true) && !lambda && config.get("target_type").is_wholly_known() {
        diags.error_at(
            &at("lambda_multi_value_headers_enabled"),
            "Argument not allowed for this target type",
            format!("`lambda_multi_value_headers_enabled` applies to lambda groups, not {target_type:?} ones."),
        );
    }
    if lambda && !config.get("target_group_health").elements().is_empty() {
        diags.error_at(
            &at("target_group_health"),
            "Block not allowed for lambda targets",
            "`target_group_health` applies to groups of instances, IP addresses or load balancers.",
        );
    }
    let Some(protocol) = protocol else { return };
    let is_http = HTTP_PROTOCOLS.contains(&protocol);
    let is_l4 = L4_PROTOCOLS.contains(&protocol);
    let only_for = |name: &str, applies: bool, owners: &str, diags: &mut Diagnostics| {
        let v = config.get(name);
        let present = v.as_bool() == Some(true) || !v.elements().is_empty() || v.is_unknown();
        if present && !applies {
            diags.error_at(
                &at(name),
                "Argument not allowed for this protocol",
                format!("`{name}` applies to {owners} groups, not {protocol}."),
            );
        }
    };
    only_for("connection_termination", is_l4, "TCP, TLS, UDP and TCP_UDP", diags);
    only_for("target_failover", protocol == "GENEVE", "GENEVE", diags);
    only_for("target_health_state", matches!(protocol, "TCP" | "TLS"), "TCP and TLS", diags);

    if config.get("protocol_version").is_set() && !is_http {
        diags.error_at(
            &at("protocol_version"),
            "Argument not allowed for this protocol",
            format!("`protocol_version` applies to HTTP and HTTPS groups, not {protocol}."),
        );
    }
    if config.get("slow_start").as_i64().is_some_and(|n| n > 0) && !is_http {
        diags.error_at(
            &at("slow_start"),
            "Argument not allowed for this protocol",
            format!("`slow_start` applies to HTTP and HTTPS groups, not {protocol}."),
        );
    }
    if config.get("load_balancing_anomaly_mitigation").is_set() && !is_http {
        diags.error_at(
            &at("load_balancing_anomaly_mitigation"),
            "Argument not allowed for this protocol",
            format!("`load_balancing_anomaly_mitigation` applies to HTTP and HTTPS groups, not {protocol}."),
        );
    }
    if config.get("load_balancing_algorithm_type").is_set() && !is_http {
        diags.error_at(
            &at("load_balancing_algorithm_type"),
            "Argument not allowed for this protocol",
            format!("`load_balancing_algorithm_type` applies to HTTP and HTTPS groups, not {protocol}."),
        );
    }
    for name in ["preserve_client_ip", "proxy_protocol_v2"] {
        let v = config.get(name);
        let turned_on = v.as_bool() == Some(true) || (name == "preserve_client_ip" && v.is_set());
        if turned_on && !is_l4 {
            diags.error_at(
                &at(name),
                "Argument not allowed for this protocol",
                format!("`{name}` applies to TCP, TLS, UDP and TCP_UDP groups, not {protocol}."),
            );
        }
    }
    if target_type == "alb" && protocol != "TCP" {
        diags.error_at(
            &at("protocol"),
            "Invalid protocol for alb targets",
            "A group with `target_type = \"alb\"` must use protocol TCP.",
        );
    }

    let hc_path = at("health_check").index(0);
    let hc = config.first_block("health_check");
    if let Some(hc_protocol) = hc.get("protocol").as_str() {
        if is_http && hc_protocol == "TCP" {
            diags.error_at(
                &hc_path.child("protocol"),
                "Invalid health check protocol",
                format!("{protocol} groups check health over HTTP or HTTPS, not TCP."),
            );
        }
        if hc_protocol == "TCP" {
            for name in ["path", "matcher"] {
                if hc.get(name).is_set() {
                    diags.error_at(
                        &hc_path.child(name),
                        "Argument not allowed for TCP health checks",
                        format!("`{name}` applies to HTTP and HTTPS health checks only."),
                    );
                }
            }
        }
    }
    if let (Some(interval), Some(timeout)) = (hc.get("interval").as_i64(), hc.get("timeout").as_i64()) {
        if timeout >= interval {
            diags.error_at(
                &hc_path.child("timeout"),
                "Invalid health check timeout",
                format!("The timeout ({timeout}s) must be shorter than the interval ({interval}s)."),
            );
        }
    }

    let st_path = at("stickiness").index(0);
    let st = config.first_block("stickiness");
    if let Some(kind) = st.get("type").as_str() {
        let alb_kind = kind == "lb_cookie" || kind == "app_cookie";
        if alb_kind && !is_http {
            diags.error_at(
                &st_path.child("type"),
                "Invalid stickiness type",
                format!("{kind:?} stickiness needs an HTTP or HTTPS group, not {protocol}."),
            );
        }
        if !alb_kind && is_http {
            diags.error_at(
                &st_path.child("type"),
                "Invalid stickiness type",
                format!("{kind:?} stickiness is for network load balancers; {protocol} groups use lb_cookie or app_cookie."),
            );
        }
        if kind == "app_cookie" && st.get("cookie_name").is_null() {
            diags.error_at(
                &st_path.child("cookie_name"),
                "Missing cookie name",
                "`app_cookie` stickiness needs `cookie_name`.",
            );
        }
    }
}

/// Target group attributes (the ModifyTargetGroupAttributes keys) that describe `planned`.
/// Attributes that do not apply to the group's protocol are left out: AWS refuses them.
pub fn desired_attributes(planned: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let protocol = planned.get("protocol").as_str().unwrap_or_default();
    let lambda = planned.get("target_type").as_str() == Some("lambda");
    let mut put = |k: &str, v: String| {
        out.insert(k.to_string(), v);
    };
    if !lambda {
        if let Some(n) = planned.get("deregistration_delay").as_i64() {
            put("deregistration_delay.timeout_seconds", n.to_string());
        }
    }
    if HTTP_PROTOCOLS.contains(&protocol) {
        if let Some(n) = planned.get("slow_start").as_i64() {
            put("slow_start.duration_seconds", n.to_string());
        }
        if let Some(s) = planned.get("load_balancing_algorithm_type").as_str() {
            put("load_balancing.algorithm.type", s.to_string());
        }
        if let Some(s) = planned.get("load_balancing_anomaly_mitigation").as_str() {
            put("load_balancing.algorithm.anomaly_mitigation", s.to_string());
        }
    }
    if !lambda {
        if let Some(s) = planned.get("load_balancing_cross_zone_enabled").as_str() {
            put("load_balancing.cross_zone.enabled", s.to_string());
        }
    }
    if L4_PROTOCOLS.contains(&protocol) {
        if let Some(b) = planned.get("proxy_protocol_v2").as_bool() {
            put("proxy_protocol_v2.enabled", b.to_string());
        }
        if let Some(b) = planned.get("preserve_client_ip").as_bool() {
            put("preserve_client_ip.enabled", b.to_string());
        }
        if let Some(b) = planned.get("connection_termination").as_bool() {
            put("deregistration_delay.connection_termination.enabled", b.to_string());
        }
    }
    if lambda {
        if let Some(b) = planned.get("lambda_multi_value_headers_enabled").as_bool() {
            put("lambda.multi_value_headers.enabled", b.to_string());
        }
    }
    let failover = planned.first_block("target_failover");
    if protocol == "GENEVE" && failover.is_set() {
        for (name, key) in [
            ("on_deregistration", "target_failover.on_deregistration"),
            ("on_unhealthy", "target_failover.on_unhealthy"),
        ] {
            if let Some(s) = failover.get(name).as_str() {
                put(key, s.to_string());
            }
        }
    }
    let health_state = planned.first_block("target_health_state");
    if matches!(protocol, "TCP" | "TLS") && health_state.is_set() {
        if let Some(b) = health_state.get("enable_unhealthy_connection_termination").as_bool() {
            put("target_health_state.unhealthy.connection_termination.enabled", b.to_string());
        }
        if let Some(n) = health_state.get("unhealthy_draining_interval").as_i64() {
            put("target_health_state.unhealthy.draining_interval_seconds", n.to_string());
        }
    }
    for (nested, key) in HEALTH_THRESHOLDS {
        let settings = planned.first_block("target_group_health").first_block(nested);
        for (name, suffix) in [
            ("minimum_healthy_targets_count", "count"),
            ("minimum_healthy_targets_percentage", "percentage"),
        ] {
            let value = settings.get(name);
            if let Some(text) = value.as_str().map(str::to_string).or(value.as_i64().map(|n| n.to_string())) {
                put(&format!("{key}.minimum_healthy_targets.{suffix}"), text);
            }
        }
    }
    let st = planned.first_block("stickiness");
    if let Some(kind) = st.get("type").as_str() {
        put("stickiness.enabled", st.get("enabled").as_bool().unwrap_or(true).to_string());
        put("stickiness.type", kind.to_string());
        if let Some(n) = st.get("cookie_duration").as_i64() {
            let key = if kind == "app_cookie" {
                "stickiness.app_cookie.duration_seconds"
            } else {
                "stickiness.lb_cookie.duration_seconds"
            };
            put(key, n.to_string());
        }
        if let Some(name) = st.get("cookie_name").as_str() {
            put("stickiness.app_cookie.cookie_name", name.to_string());
        }
    }
    // No stickiness block: stickiness is not managed here and stays as it is (a new group is not
    // sticky), see `Schema::keeps_blocks`.
    out
}

/// Values AWS gives a new group by protocol and target type, known at plan time so the plan
/// shows them: protocol_version HTTP1 for HTTP(S) groups, connection termination off for TCP/UDP
/// groups, single-value Lambda headers; null where the group has no such setting.
pub fn plan_protocol_defaults(config: &Value, planned: &mut Value) {
    let protocol = config.get("protocol").as_str();
    let lambda = config.get("target_type").as_str() == Some("lambda");
    let mut default = |name: &str, v: Option<Value>| {
        if config.get(name).is_null() && planned.get(name).is_unknown() {
            if let Some(v) = v {
                planned.set(name, v);
            }
        }
    };
    default(
        "protocol_version",
        protocol.map(|p| {
            if HTTP_PROTOCOLS.contains(&p) {
                Value::string("HTTP1")
            } else {
                Value::Null
            }
        }),
    );
    default(
        "connection_termination",
        protocol.map(|p| {
            if L4_PROTOCOLS.contains(&p) {
                Value::Bool(false)
            } else {
                Value::Null
            }
        }),
    );
    default(
        "load_balancing_anomaly_mitigation",
        protocol.map(|p| {
            if HTTP_PROTOCOLS.contains(&p) {
                Value::string("off")
            } else {
                Value::Null
            }
        }),
    );
    if config.get("target_type").is_wholly_known() {
        default(
            "lambda_multi_value_headers_enabled",
            Some(if lambda { Value::Bool(false) } else { Value::Null }),
        );
        default(
            "load_balancing_cross_zone_enabled",
            Some(if lambda {
                Value::Null
            } else {
                Value::string("use_load_balancer_configuration")
            }),
        );
    }
}

/// The planned `health_check {}` as the API's health check fields (create and modify alike).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthCheckSettings {
    pub enabled: Option<bool>,
    pub path: Option<String>,
    pub port: Option<String>,
    pub protocol: Option<String>,
    pub interval: Option<i32>,
    pub timeout: Option<i32>,
    pub healthy_threshold: Option<i32>,
    pub unhealthy_threshold: Option<i32>,
    pub matcher: Option<String>,
    /// The matcher holds gRPC codes (a GRPC group), not HTTP codes.
    pub grpc: bool,
}

impl HealthCheckSettings {
    pub fn of(planned: &Value) -> Self {
        let hc = planned.first_block("health_check");
        Self {
            enabled: hc.get("enabled").as_bool(),
            path: str_of(hc.get("path")),
            port: str_of(hc.get("port")),
            protocol: str_of(hc.get("protocol")),
            interval: i32_of(hc.get("interval")),
            timeout: i32_of(hc.get("timeout")),
            healthy_threshold: i32_of(hc.get("healthy_threshold")),
            unhealthy_threshold: i32_of(hc.get("unhealthy_threshold")),
            matcher: str_of(hc.get("matcher")),
            grpc: planned.get("protocol_version").as_str() == Some("GRPC"),
        }
    }
}

/// What to tell a user whose target group cannot be deleted because traffic still goes to it.
pub fn in_use_detail(aws_message: &str, users: &[String]) -> String {
    let held_by = if users.is_empty() {
        String::new()
    } else {
        format!("\n\nStill forwarding to it:\n  - {}", users.join("\n  - "))
    };
    format!(
        "{aws_message}{held_by}\n\nTo replace a group that a listener or rule uses, give it `name_prefix` instead of `name` and \
         `lifecycle {{ create_before_destroy = true }}`: Terraform then creates the new group, points the listener at it, \
         and deletes the old one last."
    )
}

/// What AWS reports about a target group, in plain Rust (filled by the I/O layer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteTargetGroup {
    pub arn: String,
    pub name: String,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub protocol_version: Option<String>,
    pub vpc_id: Option<String>,
    pub target_type: Option<String>,
    pub ip_address_type: Option<String>,
    pub load_balancer_arns: Vec<String>,
    pub health_check_enabled: Option<bool>,
    pub health_check_path: Option<String>,
    pub health_check_port: Option<String>,
    pub health_check_protocol: Option<String>,
    pub matcher: Option<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl RemoteTargetGroup {
    /// The health check as a `health_check` object (resource block and data source alike).
    pub fn health_check_value(&self) -> Value {
        Value::object([
            ("enabled", Value::opt_bool(self.health_check_enabled.or(Some(true)))),
            ("path", Value::opt_string(self.health_check_path.clone())),
            ("port", Value::opt_string(self.health_check_port.clone())),
            ("protocol", Value::opt_string(self.health_check_protocol.clone())),
            ("matcher", Value::opt_string(self.matcher.clone())),
            ("interval", Value::opt_i64(self.interval)),
            ("timeout", Value::opt_i64(self.timeout)),
            ("healthy_threshold", Value::opt_i64(self.healthy_threshold)),
            ("unhealthy_threshold", Value::opt_i64(self.unhealthy_threshold)),
        ])
    }

    /// Whether the health check is the one AWS gives a group created without health check
    /// settings (CreateTargetGroup's documented defaults for its protocol and target type). Import
    /// on Terraform before 1.11 shows the block only when it is not, see [`Blocks::SwitchedOn`].
    pub fn health_check_is_default(&self) -> bool {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        let target_type = self.target_type.as_deref().unwrap_or("instance");
        // (enabled, path, port, protocol, matcher, interval, timeout, healthy, unhealthy)
        let (enabled, path, port, hc_protocol, matcher, interval, timeout, healthy, unhealthy) = match (target_type, protocol) {
            ("lambda", _) => (false, Some("/"), None, None, Some("200"), 35, 30, 5, 2),
            ("alb", _) => (true, Some("/"), Some("traffic-port"), Some("HTTP"), Some("200-399"), 30, 6, 5, 2),
            (_, "GENEVE") => (true, None, Some("80"), Some("TCP"), None, 10, 5, 5, 2),
            (_, "HTTP" | "HTTPS") => (true, Some("/"), Some("traffic-port"), Some(protocol), Some("200"), 30, 5, 5, 2),
            _ => (true, None, Some("traffic-port"), Some("TCP"), None, 30, 10, 5, 2),
        };
        let same_str = |remote: &Option<String>, default: Option<&str>| remote.is_none() || remote.as_deref() == default;
        let same_int = |remote: Option<i64>, default: i64| remote.is_none_or(|r| r == default);
        self.health_check_enabled.unwrap_or(true) == enabled
            && same_str(&self.health_check_path, path)
            && (target_type == "lambda" || same_str(&self.health_check_port, port))
            && (target_type == "lambda" || same_str(&self.health_check_protocol, hc_protocol))
            && same_str(&self.matcher, matcher)
            && same_int(self.interval, interval)
            && same_int(self.timeout, timeout)
            && same_int(self.healthy_threshold, healthy)
            && same_int(self.unhealthy_threshold, unhealthy)
    }
}

/// The state for a remote group. `blocks` decides which optional blocks are shown: on refresh the
/// ones the user manages (a block the user never wrote stays absent: AWS always has a health check,
/// and showing it would be a perpetual diff on Terraform that plans blocks literally); on import,
/// see [`Blocks`].
pub fn state_from_remote(remote: &RemoteTargetGroup, prior: &Value, default_tags: &BTreeMap<String, String>, blocks: Blocks) -> Value {
    let attr = |k: &str| remote.attributes.get(k).cloned();
    let attr_i64 = |k: &str| attr(k).and_then(|s| s.parse::<i64>().ok());
    let attr_bool = |k: &str| attr(k).map(|s| s == "true");
    let protocol = remote.protocol.as_deref().unwrap_or_default();
    let is_http = HTTP_PROTOCOLS.contains(&protocol);
    let is_l4 = L4_PROTOCOLS.contains(&protocol);

    // Every group has a health check; "switched on" here means set to something else than AWS's defaults.
    let health_check = if blocks.show(!prior.get("health_check").elements().is_empty(), !remote.health_check_is_default()) {
        vec![remote.health_check_value()]
    } else {
        Vec::new()
    };

    let sticky_enabled = attr_bool("stickiness.enabled").unwrap_or(false);
    let prior_sticky = prior.first_block("stickiness");
    let stickiness = if blocks.show(prior_sticky.is_set(), sticky_enabled) {
        let kind = attr("stickiness.type");
        let duration_key = if kind.as_deref() == Some("app_cookie") {
            "stickiness.app_cookie.duration_seconds"
        } else {
            "stickiness.lb_cookie.duration_seconds"
        };
        let cookie_name = if kind.as_deref() == Some("app_cookie") {
            attr("stickiness.app_cookie.cookie_name")
        } else {
            None
        };
        vec![Value::object([
            ("type", Value::opt_string(kind)),
            ("enabled", Value::Bool(sticky_enabled)),
            ("cookie_duration", Value::opt_i64(attr_i64(duration_key))),
            (
                "cookie_name",
                cookie_name.map_or(prior_sticky.get("cookie_name").clone(), Value::String),
            ),
        ])]
    } else {
        Vec::new()
    };

    let failover_on = attr("target_failover.on_deregistration").is_some_and(|s| s != "no_rebalance")
        || attr("target_failover.on_unhealthy").is_some_and(|s| s != "no_rebalance");
    let failover_known = attr("target_failover.on_deregistration").is_some();
    let target_failover =
        if protocol == "GENEVE" && failover_known && blocks.show(prior.first_block("target_failover").is_set(), failover_on) {
            vec![Value::object([
                ("on_deregistration", Value::opt_string(attr("target_failover.on_deregistration"))),
                ("on_unhealthy", Value::opt_string(attr("target_failover.on_unhealthy"))),
            ])]
        } else {
            Vec::new()
        };
    let termination = attr_bool("target_health_state.unhealthy.connection_termination.enabled");
    let draining = attr_i64("target_health_state.unhealthy.draining_interval_seconds");
    let health_state_changed = termination == Some(false) || draining.is_some_and(|n| n != 0);
    let target_health_state =
        if matches!(protocol, "TCP" | "TLS") && blocks.show(prior.first_block("target_health_state").is_set(), health_state_changed) {
            vec![Value::object([
                ("enable_unhealthy_connection_termination", Value::Bool(termination.unwrap_or(true))),
                ("unhealthy_draining_interval", Value::int(draining.unwrap_or(0))),
            ])]
        } else {
            Vec::new()
        };

    let target_group_health = group_health_value(&attr, prior, blocks, remote.target_type.as_deref() == Some("lambda"));

    Value::object([
        ("arn", Value::string(&remote.arn)),
        ("id", Value::string(&remote.arn)),
        ("arn_suffix", Value::string(arn_suffix(&remote.arn))),
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
        ("port", Value::opt_i64(remote.port)),
        ("protocol", Value::opt_string(remote.protocol.clone())),
        ("protocol_version", Value::opt_string(remote.protocol_version.clone())),
        ("vpc_id", Value::opt_string(remote.vpc_id.clone())),
        ("target_type", Value::opt_string(remote.target_type.clone())),
        ("ip_address_type", Value::opt_string(remote.ip_address_type.clone())),
        (
            "deregistration_delay",
            Value::opt_i64(attr_i64("deregistration_delay.timeout_seconds").or(Some(300))),
        ),
        (
            "slow_start",
            Value::int(if is_http {
                attr_i64("slow_start.duration_seconds").unwrap_or(0)
            } else {
                0
            }),
        ),
        (
            "load_balancing_algorithm_type",
            if is_http {
                Value::opt_string(attr("load_balancing.algorithm.type"))
            } else {
                Value::Null
            },
        ),
        (
            "load_balancing_anomaly_mitigation",
            if is_http {
                Value::string(attr("load_balancing.algorithm.anomaly_mitigation").unwrap_or_else(|| "off".into()))
            } else {
                Value::Null
            },
        ),
        (
            "load_balancing_cross_zone_enabled",
            if remote.target_type.as_deref() == Some("lambda") {
                Value::Null
            } else {
                Value::string(attr("load_balancing.cross_zone.enabled").unwrap_or_else(|| "use_load_balancer_configuration".into()))
            },
        ),
        (
            "preserve_client_ip",
            if is_l4 {
                Value::opt_bool(attr_bool("preserve_client_ip.enabled"))
            } else {
                Value::Null
            },
        ),
        (
            "proxy_protocol_v2",
            Value::Bool(is_l4 && attr_bool("proxy_protocol_v2.enabled").unwrap_or(false)),
        ),
        (
            "connection_termination",
            if is_l4 {
                Value::Bool(attr_bool("deregistration_delay.connection_termination.enabled").unwrap_or(false))
            } else {
                Value::Null
            },
        ),
        (
            "lambda_multi_value_headers_enabled",
            if remote.target_type.as_deref() == Some("lambda") {
                Value::Bool(attr_bool("lambda.multi_value_headers.enabled").unwrap_or(false))
            } else {
                Value::Null
            },
        ),
        ("tags", tags_from_remote(&remote.tags, default_tags, prior.get("tags"))),
        ("tags_all", Value::string_map(remote.tags.clone())),
        ("load_balancer_arns", Value::string_set(remote.load_balancer_arns.clone())),
        ("health_check", Value::List(health_check)),
        ("stickiness", Value::List(stickiness)),
        ("target_failover", Value::List(target_failover)),
        ("target_health_state", Value::List(target_health_state)),
        ("target_group_health", target_group_health),
        ("timeouts", prior.get("timeouts").clone()),
    ])
}

/// The `target_group_health` block: shown where the configuration has it (with the nested blocks it
/// has), on import as `blocks` says; AWS's defaults are count 1 and percentage off.
fn group_health_value(attr: &dyn Fn(&str) -> Option<String>, prior: &Value, blocks: Blocks, lambda: bool) -> Value {
    let threshold = |key: &str, suffix: &str, default: &str| {
        attr(&format!("{key}.minimum_healthy_targets.{suffix}")).unwrap_or_else(|| default.to_string())
    };
    let changed = HEALTH_THRESHOLDS
        .iter()
        .any(|(_, key)| threshold(key, "count", "1") != "1" || threshold(key, "percentage", "off") != "off");
    let prior_block = prior.first_block("target_group_health");
    if lambda || !blocks.show(prior_block.is_set(), changed) {
        return Value::List(Vec::new());
    }
    let nested = HEALTH_THRESHOLDS.iter().map(|(name, key)| {
        let shown = !prior_block.is_set() || prior_block.first_block(name).is_set();
        let count = threshold(key, "count", "1");
        let count = if *name == "unhealthy_state_routing" {
            count.parse::<i64>().map_or(Value::Null, Value::int)
        } else {
            Value::string(count)
        };
        let items = if shown {
            vec![Value::object([
                ("minimum_healthy_targets_count", count),
                (
                    "minimum_healthy_targets_percentage",
                    Value::string(threshold(key, "percentage", "off")),
                ),
            ])]
        } else {
            Vec::new()
        };
        (*name, Value::List(items))
    });
    Value::List(vec![Value::object(nested)])
}

/// The data source's value: the group as AWS reports it, with its targets' health.
pub fn data_source_state(tg: &RemoteTargetGroup, health: &[TargetHealth]) -> Value {
    let arn = tg.arn.as_str();
    let healthy = health.iter().filter(|h| h.state == HealthState::Healthy).count();
    let targets = health
        .iter()
        .map(|h| {
            Value::object([
                ("id", Value::string(&h.target.id)),
                ("port", Value::int(h.target.port as i64)),
                ("state", Value::string(h.state.as_str())),
                ("reason", Value::opt_string(h.reason.clone())),
            ])
        })
        .collect();
    Value::object([
        ("arn", Value::string(arn)),
        ("id", Value::string(arn)),
        ("arn_suffix", Value::string(arn_suffix(arn))),
        ("name", Value::string(&tg.name)),
        ("tags", Value::string_map(tg.tags.clone())),
        ("port", Value::opt_i64(tg.port)),
        ("protocol", Value::opt_string(tg.protocol.clone())),
        ("protocol_version", Value::opt_string(tg.protocol_version.clone())),
        ("vpc_id", Value::opt_string(tg.vpc_id.clone())),
        ("target_type", Value::opt_string(tg.target_type.clone())),
        ("ip_address_type", Value::opt_string(tg.ip_address_type.clone())),
        (
            "deregistration_delay",
            Value::opt_i64(
                tg.attributes
                    .get("deregistration_delay.timeout_seconds")
                    .and_then(|s| s.parse().ok()),
            ),
        ),
        ("load_balancer_arns", Value::string_set(tg.load_balancer_arns.clone())),
        ("health_check", Value::List(vec![tg.health_check_value()])),
        ("targets", Value::List(targets)),
        ("healthy_target_count", Value::int(healthy as i64)),
    ])
}

/// Version 0 states (the `aws_lb_target_group` layout) kept `deregistration_delay` as a string.
pub fn upgrade_v0(mut raw: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = raw.as_object_mut() {
        if let Some(serde_json::Value::String(s)) = obj.get("deregistration_delay") {
            let n = s.parse::<i64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null);
            obj.insert("deregistration_delay".to_string(), n);
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    fn errors_at(config: &Value) -> Vec<String> {
        Diagnostics::paths_of(validate, config)
    }

    #[test]
    fn valid_groups_pass() {
        let http = cfg(&[
            ("port", Value::int(80)),
            ("protocol", "HTTP".into()),
            ("vpc_id", "vpc-1".into()),
            ("target_type", "ip".into()),
        ]);
        assert!(errors_at(&http).is_empty());
        let lambda = cfg(&[("target_type", "lambda".into())]);
        assert!(errors_at(&lambda).is_empty());
        // Unknown values (from other resources) are not judged yet.
        let unknown = cfg(&[("port", Value::Unknown), ("protocol", Value::Unknown), ("vpc_id", Value::Unknown)]);
        assert!(errors_at(&unknown).is_empty());
    }

    #[test]
    fn cross_field_errors_point_at_the_attribute() {
        let c = cfg(&[
            ("port", Value::int(80)),
            ("protocol", "TCP".into()),
            ("vpc_id", "v".into()),
            ("slow_start", Value::int(60)),
        ]);
        assert_eq!(errors_at(&c), ["slow_start"]);
        let c = cfg(&[
            ("port", Value::int(80)),
            ("protocol", "HTTP".into()),
            ("vpc_id", "v".into()),
            (
                "health_check",
                Value::List(vec![cfg(&[("interval", Value::int(10)), ("timeout", Value::int(10))])]),
            ),
        ]);
        assert_eq!(errors_at(&c), ["health_check[0].timeout"]);
    }

    #[test]
    fn attributes_follow_protocol() {
        let http = cfg(&[
            ("protocol", "HTTP".into()),
            ("deregistration_delay", Value::int(30)),
            ("slow_start", Value::int(0)),
            ("proxy_protocol_v2", false.into()),
        ]);
        let a = desired_attributes(&http);
        assert_eq!(a["deregistration_delay.timeout_seconds"], "30");
        assert_eq!(a["slow_start.duration_seconds"], "0");
        assert!(!a.contains_key("stickiness.enabled"), "no block: stickiness left as it is");
        assert!(!a.contains_key("proxy_protocol_v2.enabled"), "HTTP groups have no proxy protocol");
        let tcp = cfg(&[
            ("protocol", "TCP".into()),
            ("proxy_protocol_v2", true.into()),
            (
                "stickiness",
                Value::List(vec![cfg(&[("type", "source_ip".into()), ("enabled", true.into())])]),
            ),
        ]);
        let a = desired_attributes(&tcp);
        assert_eq!(a["proxy_protocol_v2.enabled"], "true");
        assert_eq!(a["stickiness.type"], "source_ip");
        assert!(!a.contains_key("slow_start.duration_seconds"));
    }

    #[test]
    fn unmanaged_blocks_stay_absent_and_import_shows_blocks_by_terraform_version() {
        let remote = RemoteTargetGroup {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/1".into(),
            name: "a".into(),
            protocol: Some("HTTP".into()),
            health_check_path: Some("/".into()),
            attributes: BTreeMap::from([("stickiness.enabled".into(), "false".into())]),
            ..Default::default()
        };
        let prior = cfg(&[("health_check", Value::List(vec![])), ("stickiness", Value::List(vec![]))]);
        let state = state_from_remote(&remote, &prior, &BTreeMap::new(), Blocks::AsPrior);
        assert!(state.get("health_check").elements().is_empty());
        assert_eq!(state.get("arn_suffix"), &Value::string("targetgroup/a/1"));
        assert_eq!(state.get("deregistration_delay").as_i64(), Some(300));
        // Terraform 1.11 and later: every block, so stating and omitting configurations both fit.
        let imported = state_from_remote(&remote, &Value::Null, &BTreeMap::new(), Blocks::All);
        assert_eq!(imported.first_block("health_check").get("path"), &Value::string("/"));
        assert_eq!(imported.first_block("stickiness").get("enabled"), &Value::Bool(false));
        // Older Terraform: only what differs from AWS's defaults.
        let imported = state_from_remote(&remote, &Value::Null, &BTreeMap::new(), Blocks::SwitchedOn);
        assert!(imported.get("health_check").elements().is_empty(), "default health check: no block");
        assert!(imported.get("stickiness").elements().is_empty(), "stickiness off: no block");
        let custom = RemoteTargetGroup {
            health_check_path: Some("/healthz".into()),
            attributes: BTreeMap::from([("stickiness.enabled".into(), "true".into())]),
            ..remote
        };
        let imported = state_from_remote(&custom, &Value::Null, &BTreeMap::new(), Blocks::SwitchedOn);
        assert_eq!(imported.first_block("health_check").get("path"), &Value::string("/healthz"));
        assert_eq!(imported.first_block("stickiness").get("enabled"), &Value::Bool(true));
    }

    #[test]
    fn target_group_health_thresholds_round_trip() {
        let planned = cfg(&[
            ("protocol", "HTTP".into()),
            (
                "target_group_health",
                Value::List(vec![Value::object([
                    (
                        "dns_failover",
                        Value::List(vec![Value::object([("minimum_healthy_targets_count", "2".into())])]),
                    ),
                    ("unhealthy_state_routing", Value::List(vec![])),
                ])]),
            ),
        ]);
        let written = desired_attributes(&planned);
        assert_eq!(written["target_group_health.dns_failover.minimum_healthy_targets.count"], "2");
        assert!(!written.keys().any(|k| k.contains("unhealthy_state_routing")), "{written:?}");
        let remote = RemoteTargetGroup {
            protocol: Some("HTTP".into()),
            attributes: written,
            ..Default::default()
        };
        let state = state_from_remote(&remote, &planned, &BTreeMap::new(), Blocks::AsPrior);
        let health = state.first_block("target_group_health");
        assert_eq!(
            health.first_block("dns_failover").get("minimum_healthy_targets_count"),
            &Value::string("2")
        );
        assert_eq!(
            health.first_block("dns_failover").get("minimum_healthy_targets_percentage"),
            &Value::string("off")
        );
        assert!(
            health.get("unhealthy_state_routing").elements().is_empty(),
            "only the nested blocks configured"
        );
        let imported = state_from_remote(&remote, &Value::Null, &BTreeMap::new(), Blocks::SwitchedOn);
        assert!(
            imported.first_block("target_group_health").is_set(),
            "thresholds off AWS's defaults show on import"
        );
    }

    #[test]
    fn aws_default_health_checks_by_protocol_and_target_type() {
        let group = |protocol: &str, target_type: &str| RemoteTargetGroup {
            protocol: Some(protocol.into()),
            target_type: Some(target_type.into()),
            health_check_port: Some("traffic-port".into()),
            interval: Some(30),
            healthy_threshold: Some(5),
            unhealthy_threshold: Some(2),
            ..Default::default()
        };
        let http = RemoteTargetGroup {
            health_check_path: Some("/".into()),
            health_check_protocol: Some("HTTP".into()),
            matcher: Some("200".into()),
            timeout: Some(5),
            ..group("HTTP", "ip")
        };
        assert!(http.health_check_is_default());
        assert!(!RemoteTargetGroup {
            timeout: Some(7),
            ..http.clone()
        }
        .health_check_is_default());
        assert!(!RemoteTargetGroup {
            matcher: Some("200-299".into()),
            ..http
        }
        .health_check_is_default());
        let tcp = RemoteTargetGroup {
            health_check_protocol: Some("TCP".into()),
            timeout: Some(10),
            ..group("TCP", "instance")
        };
        assert!(tcp.health_check_is_default());
        assert!(!RemoteTargetGroup {
            health_check_protocol: Some("HTTP".into()),
            ..tcp
        }
        .health_check_is_default());
    }

    #[test]
    fn version_0_state_upgrades_deregistration_delay() {
        let up = upgrade_v0(serde_json::json!({"deregistration_delay": "120", "name": "x"}));
        assert_eq!(up["deregistration_delay"], serde_json::json!(120));
        assert_eq!(up["name"], "x");
    }
}
