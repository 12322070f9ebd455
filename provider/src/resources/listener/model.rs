//! Pure decisions for `elbv2_listener`: cross-field rules and the state for what AWS reports.

use std::collections::BTreeMap;

use tgbind_aws::elbv2::types::Action;

use crate::framework::tags::tags_from_remote;
use crate::framework::Diagnostics;
use crate::resources::actions;
use crate::resources::values::AttributeKind as Kind;
use crate::tfvalue::{AttributePath, Value};

const SECURE: &[&str] = &["HTTPS", "TLS"];

/// Which listeners have a [`ListenerSetting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listeners {
    /// TCP listeners of network load balancers and gateway load balancers' listeners (no protocol).
    Tcp,
    /// HTTP and HTTPS listeners.
    Http,
    /// HTTPS listeners.
    Https,
}

impl Listeners {
    fn have(self, protocol: Option<&str>) -> bool {
        match self {
            Listeners::Tcp => matches!(protocol, None | Some("TCP")),
            Listeners::Http => matches!(protocol, Some("HTTP" | "HTTPS")),
            Listeners::Https => protocol == Some("HTTPS"),
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Listeners::Tcp => "TCP and gateway",
            Listeners::Http => "HTTP and HTTPS",
            Listeners::Https => "HTTPS",
        }
    }
}

/// A listener argument that is one listener attribute (ModifyListenerAttributes key), named as
/// `aws_lb_listener` names it. Unset ones keep what AWS has; the state shows what AWS reports.
#[derive(Debug)]
pub struct ListenerSetting {
    pub name: &'static str,
    pub key: &'static str,
    pub kind: Kind,
    listeners: Listeners,
}

const fn setting(name: &'static str, key: &'static str, kind: Kind, listeners: Listeners) -> ListenerSetting {
    ListenerSetting {
        name,
        key,
        kind,
        listeners,
    }
}

#[rustfmt::skip]
pub const LISTENER_SETTINGS: &[ListenerSetting] = &[
    setting("tcp_idle_timeout_seconds", "tcp.idle_timeout.seconds", Kind::Int, Listeners::Tcp),
    setting("routing_http_response_server_enabled", "routing.http.response.server.enabled", Kind::Bool, Listeners::Http),
    setting("routing_http_response_strict_transport_security_header_value", "routing.http.response.strict_transport_security.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_allow_origin_header_value", "routing.http.response.access_control_allow_origin.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_allow_methods_header_value", "routing.http.response.access_control_allow_methods.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_allow_headers_header_value", "routing.http.response.access_control_allow_headers.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_allow_credentials_header_value", "routing.http.response.access_control_allow_credentials.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_expose_headers_header_value", "routing.http.response.access_control_expose_headers.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_access_control_max_age_header_value", "routing.http.response.access_control_max_age.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_content_security_policy_header_value", "routing.http.response.content_security_policy.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_x_content_type_options_header_value", "routing.http.response.x_content_type_options.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_response_x_frame_options_header_value", "routing.http.response.x_frame_options.header_value", Kind::Str, Listeners::Http),
    setting("routing_http_request_x_amzn_mtls_clientcert_serial_number_header_name", "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_mtls_clientcert_issuer_header_name", "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_mtls_clientcert_subject_header_name", "routing.http.request.x_amzn_mtls_clientcert_subject.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_mtls_clientcert_validity_header_name", "routing.http.request.x_amzn_mtls_clientcert_validity.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_mtls_clientcert_leaf_header_name", "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_mtls_clientcert_header_name", "routing.http.request.x_amzn_mtls_clientcert.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_tls_version_header_name", "routing.http.request.x_amzn_tls_version.header_name", Kind::Str, Listeners::Https),
    setting("routing_http_request_x_amzn_tls_cipher_suite_header_name", "routing.http.request.x_amzn_tls_cipher_suite.header_name", Kind::Str, Listeners::Https),
];

impl ListenerSetting {
    /// What the docs and errors say about where the setting applies.
    pub fn applies_to(&self) -> &'static str {
        self.listeners.describe()
    }
}

/// Listener attributes (ModifyListenerAttributes keys) for the settings `planned` states that its
/// protocol has.
pub fn desired_attributes(planned: &Value) -> BTreeMap<String, String> {
    let protocol = planned.get("protocol").as_str();
    LISTENER_SETTINGS
        .iter()
        .filter(|s| s.listeners.have(protocol))
        .filter_map(|s| Some((s.key.to_string(), s.kind.text(planned.get(s.name))?)))
        .collect()
}

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
    for s in LISTENER_SETTINGS {
        if config.get(s.name).is_set() && !s.listeners.have(Some(protocol)) {
            diags.error_at(
                &at(s.name),
                "Argument not allowed for this protocol",
                format!("`{}` applies to {} listeners, not {protocol}.", s.name, s.applies_to()),
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
    /// The listener attributes (DescribeListenerAttributes).
    pub attributes: BTreeMap<String, String>,
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
    let mut state = Value::object([
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
    ]);
    for s in LISTENER_SETTINGS {
        let value = match remote.attributes.get(s.key) {
            Some(text) if s.listeners.have(remote.protocol.as_deref()) => s.kind.value(text),
            // Not reported (or not this listener's): as configured.
            _ => prior.get(s.name).clone(),
        };
        state.set(s.name, value);
    }
    state
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
