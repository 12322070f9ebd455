//! The schema of `elbv2_listener`.

use super::model;
use crate::framework::{validators as v, Attribute, Block, Schema};
use crate::resources::actions;

pub const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

pub fn schema() -> Schema {
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
        .block(actions::action_block("default_action").with_description("What happens to requests no rule matches: `forward`, `redirect` or `fixed-response`."));
    Schema::new(0, block).check(model::validate).apply_check(model::check_values)
}
