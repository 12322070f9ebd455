//! Pure decisions for `elbv2_listener`: cross-field rules and the state for what AWS reports.

use std::collections::BTreeMap;

use tgbind_aws::elbv2::types::Action;

use crate::framework::tags::tags_from_remote;
use crate::framework::Diagnostics;
use crate::resources::actions;
use crate::tfvalue::{AttributePath, Value};

const SECURE: &[&str] = &["HTTPS", "TLS"];

/// The action ARNs, once known (before the create or update call).
pub fn check_values(planned: &Value, diags: &mut Diagnostics) {
    actions::check_values(planned.get("default_action"), &AttributePath::attr("default_action"), diags);
}

pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let at = AttributePath::attr;
    actions::validate(config.get("default_action"), &at("default_action"), diags);
    let Some(protocol) = config.get("protocol").as_str() else { return };
    let secure = SECURE.contains(&protocol);
    let cert = config.get("certificate_arn");
    if secure && cert.is_null() {
        diags.error_at(
            &at("certificate_arn"),
            "Missing certificate",
            format!("A {protocol} listener needs `certificate_arn`."),
        );
    }
    for name in ["certificate_arn", "ssl_policy"] {
        if !secure && config.get(name).is_set() {
            diags.error_at(
                &at(name),
                "Argument not allowed for this protocol",
                format!("`{name}` applies to HTTPS and TLS listeners, not {protocol}."),
            );
        }
    }
    let mutual = config.first_block("mutual_authentication");
    if mutual.is_set() && protocol != "HTTPS" {
        diags.error_at(
            &at("mutual_authentication"),
            "Block not allowed for this protocol",
            format!("`mutual_authentication` applies to HTTPS listeners, not {protocol}."),
        );
    }
    if mutual.get("mode").as_str() == Some("verify") && mutual.get("trust_store_arn").is_null() {
        diags.error_at(
            &at("mutual_authentication").index(0).child("trust_store_arn"),
            "Missing trust store",
            "`mode = \"verify\"` needs `trust_store_arn`.",
        );
    }
    if protocol != "TLS" && config.get("alpn_policy").is_set() {
        diags.error_at(
            &at("alpn_policy"),
            "Argument not allowed for this protocol",
            format!("`alpn_policy` applies to TLS listeners, not {protocol}."),
        );
    }
}

/// Whether an update changes what ModifyListener sets (tags have their own calls).
pub fn settings_changed(prior: &Value, planned: &Value) -> bool {
    [
        "port",
        "protocol",
        "certificate_arn",
        "ssl_policy",
        "alpn_policy",
        "default_action",
        "mutual_authentication",
    ]
    .iter()
    .any(|name| planned.get(name) != prior.get(name))
}

/// What AWS reports about a listener, in plain Rust (filled by the I/O layer).
#[derive(Debug, Clone, Default)]
pub struct RemoteListener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub certificate_arn: Option<String>,
    pub ssl_policy: Option<String>,
    pub alpn_policy: Option<String>,
    pub default_actions: Vec<Action>,
    pub mutual_authentication: Option<RemoteMutualAuthentication>,
    pub tags: BTreeMap<String, String>,
}

/// A listener's client certificate settings as AWS reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteMutualAuthentication {
    pub mode: String,
    pub trust_store_arn: Option<String>,
    pub ignore_client_certificate_expiry: Option<bool>,
    pub advertise_trust_store_ca_names: Option<String>,
}

pub fn state_from_remote(remote: &RemoteListener, prior: &Value, default_tags: &BTreeMap<String, String>) -> Value {
    Value::object([
        ("arn", Value::string(&remote.arn)),
        ("id", Value::string(&remote.arn)),
        ("load_balancer_arn", Value::string(&remote.load_balancer_arn)),
        ("port", Value::opt_i64(remote.port)),
        ("protocol", Value::opt_string(remote.protocol.clone())),
        ("certificate_arn", Value::opt_string(remote.certificate_arn.clone())),
        // Only HTTPS and TLS listeners have one (an emulator may report its default on others).
        (
            "ssl_policy",
            if remote.protocol.as_deref().is_some_and(|p| SECURE.contains(&p)) {
                Value::opt_string(remote.ssl_policy.clone())
            } else {
                Value::Null
            },
        ),
        ("alpn_policy", Value::opt_string(remote.alpn_policy.clone())),
        ("tags", tags_from_remote(&remote.tags, default_tags, prior.get("tags"))),
        ("tags_all", Value::string_map(remote.tags.clone())),
        (
            "default_action",
            actions::list_from_sdk(&remote.default_actions, prior.get("default_action")),
        ),
        ("mutual_authentication", mutual_authentication_value(remote, prior)),
    ])
}

/// The `mutual_authentication` block: shown when the configuration has one or mTLS is on.
fn mutual_authentication_value(remote: &RemoteListener, prior: &Value) -> Value {
    let in_prior = prior.first_block("mutual_authentication").is_set();
    match &remote.mutual_authentication {
        Some(m) if in_prior || m.mode != "off" => Value::List(vec![Value::object([
            ("mode", Value::string(&m.mode)),
            ("trust_store_arn", Value::opt_string(m.trust_store_arn.clone())),
            (
                "ignore_client_certificate_expiry",
                Value::Bool(m.ignore_client_certificate_expiry.unwrap_or(false)),
            ),
            (
                "advertise_trust_store_ca_names",
                Value::opt_string(
                    m.advertise_trust_store_ca_names
                        .clone()
                        .or_else(|| (m.mode == "verify").then(|| "off".to_string())),
                ),
            ),
        ])]),
        None if in_prior => prior.get("mutual_authentication").clone(),
        _ => Value::List(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_at(config: &Value) -> Vec<String> {
        Diagnostics::paths_of(validate, config)
    }

    #[test]
    fn tls_settings_follow_protocol() {
        assert_eq!(errors_at(&Value::object([("protocol", "HTTPS".into())])), ["certificate_arn"]);
        let http = Value::object([
            ("protocol", "HTTP".into()),
            ("certificate_arn", "arn:c".into()),
            ("alpn_policy", "None".into()),
        ]);
        assert_eq!(errors_at(&http), ["certificate_arn", "alpn_policy"]);
        let tls = Value::object([
            ("protocol", "TLS".into()),
            ("certificate_arn", "arn:c".into()),
            ("alpn_policy", "None".into()),
        ]);
        assert!(errors_at(&tls).is_empty());
        assert!(errors_at(&Value::object([("protocol", Value::Unknown)])).is_empty());
    }
}
