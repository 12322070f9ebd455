//! The schema of `elbv2_listener`.

use super::model;
use crate::framework::{validators as v, Attribute, Block, NestedBlock, Schema};
use crate::resources::actions;
use crate::resources::values::AttributeKind as Kind;

pub const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

/// The argument of a listener attribute: what AWS reports is kept, what is configured is written.
fn listener_setting(s: &model::ListenerSetting) -> Attribute {
    let attribute = match s.kind {
        Kind::Bool => Attribute::bool(s.name),
        Kind::Int => Attribute::number(s.name),
        Kind::Str => Attribute::string(s.name),
    };
    let attribute = attribute.optional_computed().description(&format!(
        "The listener attribute `{}`; {} listeners only. Left out, it stays as AWS has it.",
        s.key,
        s.applies_to()
    ));
    if s.name == "tcp_idle_timeout_seconds" {
        attribute.validate(v::int_between(60, 6000))
    } else {
        attribute
    }
}

pub fn schema() -> Schema {
    let mutual_authentication = Block::new()
        .attribute(
            Attribute::string("mode")
                .required()
                .description("`off`, `passthrough` (the certificate chain goes to the targets in headers) or `verify` (checked against the trust store).")
                .validate(v::one_of(&["off", "passthrough", "verify"])),
        )
        .attribute(Attribute::string("trust_store_arn").description("ARN of the trust store; required for `verify`."))
        .attribute(Attribute::bool("ignore_client_certificate_expiry").optional_computed().description("Whether expired client certificates are accepted (`verify`). Default `false`."))
        .attribute(
            Attribute::string("advertise_trust_store_ca_names")
                .optional_computed()
                .description("`on` or `off` (default): whether the trust store's CA names are sent to clients (`verify`).")
                .validate(v::one_of(&["on", "off"])),
        );
    let block = Block::new()
        .description("A listener: a port and protocol on a load balancer, with the action for requests no rule matches.")
        .attribute(Attribute::string("arn").computed().description("ARN of the listener."))
        .attribute(Attribute::string("id").computed().description("Same as `arn`."))
        .attribute(Attribute::string("load_balancer_arn").required().requires_replace().description("ARN of the load balancer."))
        .attribute(Attribute::number("port").description("Port the load balancer listens on, 1-65535. Required except on gateway load balancers, whose listeners have none.").validate(v::int_between(1, 65535)))
        .attribute(
            Attribute::string("protocol")
                .optional_computed()
                .description("`HTTP` or `HTTPS` for application load balancers (default `HTTP`); `TCP`, `TLS`, `UDP` or `TCP_UDP` for network load balancers (default `TCP`); none on gateway load balancers (GENEVE).")
                .validate(v::one_of(PROTOCOLS)),
        )
        .attribute(Attribute::string("certificate_arn").description("ARN of the default server certificate; required for `HTTPS` and `TLS`."))
        .attribute(Attribute::string("ssl_policy").optional_computed().description("Security policy for `HTTPS` and `TLS`; AWS picks its default when left out."))
        .attribute(
            Attribute::string("alpn_policy")
                .description("ALPN policy of a `TLS` listener: `HTTP1Only`, `HTTP2Only`, `HTTP2Optional`, `HTTP2Preferred` or `None`.")
                .validate(v::one_of(&["HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred", "None"])),
        )
        .attribute(Attribute::string_map("tags").description("Tags of the listener."))
        .attribute(Attribute::string_map("tags_all").computed().description("All tags, including the provider's `default_tags`."))
        .block(actions::action_block("default_action").with_description("What happens to requests no rule matches, in order: any `authenticate-oidc` / `authenticate-cognito` actions, then `forward`, `redirect` or `fixed-response`."))
        .block(NestedBlock::list("mutual_authentication", mutual_authentication).max_items(1).with_description("Client certificate authentication (mTLS); HTTPS listeners only."));
    let block = model::LISTENER_SETTINGS
        .iter()
        .fold(block, |block, s| block.attribute(listener_setting(s)));
    Schema::new(0, block)
        .check(model::validate)
        .apply_check(model::check_values)
        .keeps_blocks(&["mutual_authentication"])
}

/// The `config` of a `list "elbv2_listener"` block (`terraform query`).
pub fn list_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .description("Lists the listeners of a load balancer.")
            .attribute(
                Attribute::string("load_balancer_arn")
                    .required()
                    .description("The load balancer whose listeners are listed."),
            )
            .attribute(Attribute::string_map("tags").description("Only listeners with all of these tags.")),
    )
}
