use super::model;
use crate::framework::{validators as v, Attribute, Block, NestedBlock, Schema};
use crate::resources::values::{require_lookup, timeouts_block};
use crate::tfvalue::Type;

/// Version 1 stores `deregistration_delay` as a number (version 0, like `aws_lb_target_group`,
/// stored it as a string); see `upgrade_v0`.
pub const SCHEMA_VERSION: i64 = 1;

pub const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"];
pub const TARGET_TYPES: &[&str] = &["instance", "ip", "lambda", "alb"];

pub fn schema() -> Schema {
    let health_check = Block::new()
        .attribute(
            Attribute::bool("enabled")
                .default(true)
                .description("Whether health checks run. Default `true`."),
        )
        .attribute(
            Attribute::string("path")
                .optional_computed()
                .description("Destination of HTTP(S) health checks.")
                .validate(v::matches(r"^/", "must start with /")),
        )
        .attribute(
            Attribute::string("port")
                .optional_computed()
                .description("Port of health checks: a number or `traffic-port` (the default).")
                .validate(v::matches(
                    r"^(traffic-port|[1-9][0-9]{0,4})$",
                    "must be `traffic-port` or a port number",
                )),
        )
        .attribute(
            Attribute::string("protocol")
                .optional_computed()
                .description("Protocol of health checks: HTTP, HTTPS or TCP.")
                .validate(v::one_of(&["HTTP", "HTTPS", "TCP"])),
        )
        .attribute(
            Attribute::string("matcher")
                .optional_computed()
                .description("Success codes, such as `200` or `200-299` (HTTP codes; gRPC codes for GRPC groups)."),
        )
        .attribute(
            Attribute::number("interval")
                .optional_computed()
                .description("Seconds between checks, 5-300.")
                .validate(v::int_between(5, 300)),
        )
        .attribute(
            Attribute::number("timeout")
                .optional_computed()
                .description("Seconds without answer that fail a check, 2-120.")
                .validate(v::int_between(2, 120)),
        )
        .attribute(
            Attribute::number("healthy_threshold")
                .optional_computed()
                .description("Consecutive successes for healthy, 2-10.")
                .validate(v::int_between(2, 10)),
        )
        .attribute(
            Attribute::number("unhealthy_threshold")
                .optional_computed()
                .description("Consecutive failures for unhealthy, 2-10.")
                .validate(v::int_between(2, 10)),
        );

    let stickiness = Block::new()
        .attribute(
            Attribute::string("type")
                .required()
                .description("`lb_cookie` or `app_cookie` (ALB), `source_ip`, `source_ip_dest_ip`, `source_ip_dest_ip_proto` (NLB/GWLB).")
                .validate(v::one_of(&[
                    "lb_cookie",
                    "app_cookie",
                    "source_ip",
                    "source_ip_dest_ip",
                    "source_ip_dest_ip_proto",
                ])),
        )
        .attribute(
            Attribute::bool("enabled")
                .default(true)
                .description("Whether stickiness is on. Default `true`."),
        )
        .attribute(
            Attribute::number("cookie_duration")
                .optional_computed()
                .description("Seconds a cookie binds a client, 1-604800.")
                .validate(v::int_between(1, 604_800)),
        )
        .attribute(Attribute::string("cookie_name").description("The application cookie, for `app_cookie`."));

    let target_failover = Block::new()
        .attribute(
            Attribute::string("on_deregistration")
                .required()
                .description("`rebalance` or `no_rebalance`: whether flows of a deregistered target move to healthy ones.")
                .validate(v::one_of(&["rebalance", "no_rebalance"])),
        )
        .attribute(
            Attribute::string("on_unhealthy")
                .required()
                .description("`rebalance` or `no_rebalance`: whether flows of an unhealthy target move to healthy ones.")
                .validate(v::one_of(&["rebalance", "no_rebalance"])),
        );
    let target_health_state = Block::new()
        .attribute(
            Attribute::bool("enable_unhealthy_connection_termination")
                .required()
                .description("Whether connections to an unhealthy target are closed."),
        )
        .attribute(
            Attribute::number("unhealthy_draining_interval")
                .optional_computed()
                .description(
                    "Seconds an unhealthy target drains before its connections close, 0-360000 (only when termination is off). Default 0.",
                )
                .validate(v::int_between(0, 360_000)),
        );

    let percentage = || {
        Attribute::string("minimum_healthy_targets_percentage")
            .optional_computed()
            .description("`off` (default) or a percentage of targets, 1-100.")
            .validate(v::matches(
                r"^(off|[1-9][0-9]?|100)$",
                "must be `off` or a whole number from 1 to 100",
            ))
    };
    let dns_failover = Block::new()
        .attribute(
            Attribute::string("minimum_healthy_targets_count")
                .optional_computed()
                .description("`off` or how many healthy targets the group needs before DNS fails over away from its zone; default `1`.")
                .validate(v::matches(r"^(off|[1-9][0-9]*)$", "must be `off` or a positive whole number")),
        )
        .attribute(percentage());
    let unhealthy_state_routing = Block::new()
        .attribute(
            Attribute::number("minimum_healthy_targets_count")
                .optional_computed()
                .description("How many healthy targets the group needs before traffic goes to unhealthy ones too (fail open); default 1.")
                .validate(v::int_between(1, 5000)),
        )
        .attribute(percentage());
    let target_group_health = Block::new()
        .block(
            NestedBlock::list("dns_failover", dns_failover)
                .max_items(1)
                .with_description("When Route 53 stops sending traffic to the group's zone."),
        )
        .block(
            NestedBlock::list("unhealthy_state_routing", unhealthy_state_routing)
                .max_items(1)
                .with_description("When the load balancer sends traffic to unhealthy targets too."),
        );

    let block = Block::new()
        .description("A target group: where a load balancer's listener or rule sends traffic. Targets are registered by `tgbind-controller` (TargetGroupBinding) or any other client.")
        .attribute(Attribute::string("arn").computed().description("ARN of the target group."))
        .attribute(Attribute::string("id").computed().description("Same as `arn`."))
        .attribute(Attribute::string("arn_suffix").computed().description("`targetgroup/<name>/<id>`, for CloudWatch metrics."))
        .attribute(
            Attribute::string("name").optional_computed().requires_replace()
                .description("Name, unique per region and account: 1-32 letters, digits and hyphens, not starting or ending with a hyphen. Generated when neither `name` nor `name_prefix` is set.")
                .validate(v::string_length(1, 32))
                .validate(v::matches(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$", "only letters, digits and hyphens, not starting or ending with a hyphen")),
        )
        .attribute(Attribute::string("name_prefix").requires_replace().description("Creates a unique name beginning with this prefix (at most 6 characters).").validate(v::string_length(1, 6)).validate(v::matches(r"^[A-Za-z0-9][A-Za-z0-9-]*$", "only letters, digits and hyphens, not starting with a hyphen")))
        .attribute(Attribute::number("port").requires_replace().description("Port targets receive traffic on (1-65535). Required unless `target_type` is `lambda`.").validate(v::int_between(1, 65535)))
        .attribute(Attribute::string("protocol").requires_replace().description("HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP or GENEVE. Required unless `target_type` is `lambda`.").validate(v::one_of(PROTOCOLS)))
        .attribute(Attribute::string("protocol_version").optional_computed().requires_replace().description("HTTP1 (default), HTTP2 or GRPC; HTTP and HTTPS groups only.").validate(v::one_of(&["HTTP1", "HTTP2", "GRPC"])))
        .attribute(Attribute::string("vpc_id").requires_replace().description("VPC of the targets. Required unless `target_type` is `lambda`."))
        .attribute(Attribute::string("target_type").default("instance").requires_replace().description("`instance` (default), `ip`, `lambda` or `alb`. TargetGroupBindings with `targetType: ip` need `ip`.").validate(v::one_of(TARGET_TYPES)))
        .attribute(Attribute::string("ip_address_type").optional_computed().requires_replace().description("`ipv4` (default) or `ipv6`.").validate(v::one_of(&["ipv4", "ipv6"])))
        .attribute(Attribute::number("deregistration_delay").default(300).description("Seconds to drain a deregistered target, 0-3600. Default 300.").validate(v::int_between(0, 3600)))
        .attribute(Attribute::number("slow_start").default(0).description("Seconds of warm-up for new targets: 0 (off) or 30-900. HTTP and HTTPS groups only.").validate(v::zero_or_between(30, 900)))
        .attribute(Attribute::string("load_balancing_algorithm_type").optional_computed().description("`round_robin`, `least_outstanding_requests` or `weighted_random`; HTTP and HTTPS groups only.").validate(v::one_of(&["round_robin", "least_outstanding_requests", "weighted_random"])))
        .attribute(Attribute::string("load_balancing_anomaly_mitigation").optional_computed().description("`on` or `off` (default): automatic target anomaly mitigation, with `weighted_random`; HTTP and HTTPS groups only.").validate(v::one_of(&["on", "off"])))
        .attribute(Attribute::string("load_balancing_cross_zone_enabled").optional_computed().description("`true`, `false` or `use_load_balancer_configuration` (default): whether this group balances across zones regardless of the load balancer's setting; not for `lambda` groups.").validate(v::one_of(&["true", "false", "use_load_balancer_configuration"])))
        .attribute(Attribute::bool("preserve_client_ip").optional_computed().description("Whether targets see the client's IP; TCP, TLS, UDP and TCP_UDP groups only."))
        .attribute(Attribute::bool("proxy_protocol_v2").default(false).description("Whether to send the Proxy Protocol v2 header; TCP, TLS, UDP and TCP_UDP groups only. Default `false`."))
        .attribute(Attribute::bool("connection_termination").optional_computed().description("Whether connections to a target close when its deregistration delay ends; TCP, TLS, UDP and TCP_UDP groups only. Default `false`."))
        .attribute(Attribute::bool("lambda_multi_value_headers_enabled").optional_computed().description("Whether a Lambda target gets headers and query parameters with several values as lists; `lambda` groups only. Default `false`."))
        .attribute(Attribute::string_map("tags").description("Tags of the target group."))
        .attribute(Attribute::string_map("tags_all").computed().description("All tags, including the provider's `default_tags`."))
        .attribute(Attribute::string_set("load_balancer_arns").computed().description("ARNs of the load balancers that route to this group."))
        .block(NestedBlock::list("health_check", health_check).max_items(1))
        .block(NestedBlock::list("stickiness", stickiness).max_items(1))
        .block(NestedBlock::list("target_failover", target_failover).max_items(1).with_description("What happens to flows when a target fails or leaves; GENEVE groups (gateway load balancers) only."))
        .block(NestedBlock::list("target_health_state", target_health_state).max_items(1).with_description("What happens to connections of an unhealthy target; TCP and TLS groups only."))
        .block(NestedBlock::list("target_group_health", target_group_health).max_items(1).with_description("Thresholds of healthy targets below which DNS fails over or traffic goes to unhealthy targets too; not for `lambda` groups."))
        .block(timeouts_block(&[(
            "delete",
            "listeners and rules to stop using the group, e.g. while they are deleted in the same apply (default `2m`)",
        )]));
    Schema::new(SCHEMA_VERSION, block)
        .check(model::validate)
        .blank_is_unset(&["name", "name_prefix"])
        .keeps_blocks(&[
            "health_check",
            "stickiness",
            "target_failover",
            "target_health_state",
            "target_group_health",
        ])
}

fn object(fields: &[(&str, Type)]) -> Type {
    Type::Object(fields.iter().map(|(k, t)| (k.to_string(), t.clone())).collect())
}

/// The data source `elbv2_target_group`: the group's settings, registered targets and health.
pub fn data_source_schema() -> Schema {
    {
        let health_check = object(&[
            ("enabled", Type::Bool),
            ("path", Type::String),
            ("port", Type::String),
            ("protocol", Type::String),
            ("matcher", Type::String),
            ("interval", Type::Number),
            ("timeout", Type::Number),
            ("healthy_threshold", Type::Number),
            ("unhealthy_threshold", Type::Number),
        ]);
        let target = object(&[
            ("id", Type::String),
            ("port", Type::Number),
            ("state", Type::String),
            ("reason", Type::String),
        ]);
        let block = Block::new()
            .description("Looks up one target group by `arn`, `name` or `tags` (an error unless exactly one matches), with its registered targets and their health.")
            .attribute(Attribute::string("arn").optional_computed().description("ARN of the target group."))
            .attribute(Attribute::string("name").optional_computed().description("Name of the target group."))
            .attribute(Attribute::string_map("tags").optional_computed().description("Tags the target group must carry (all of them)."))
            .attribute(Attribute::string("id").computed().description("Same as `arn`."))
            .attribute(Attribute::string("arn_suffix").computed().description("`targetgroup/<name>/<id>`."))
            .attribute(Attribute::number("port").computed())
            .attribute(Attribute::string("protocol").computed())
            .attribute(Attribute::string("protocol_version").computed())
            .attribute(Attribute::string("vpc_id").computed())
            .attribute(Attribute::string("target_type").computed())
            .attribute(Attribute::string("ip_address_type").computed())
            .attribute(Attribute::number("deregistration_delay").computed())
            .attribute(Attribute::string_set("load_balancer_arns").computed())
            .attribute(Attribute::new("health_check", Type::list(health_check)).computed())
            .attribute(Attribute::new("targets", Type::list(target)).computed().description("Registered targets with ELB's health state and reason, e.g. to wait for healthy targets before shifting traffic."))
            .attribute(Attribute::number("healthy_target_count").computed().description("Registered targets in state `healthy`."));
        Schema::new(0, block).check(require_lookup)
    }
}

/// The `config` of a `list "elbv2_target_group"` block (`terraform query`).
pub fn list_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .description("Lists target groups, all of them or those of a load balancer, with a name and tags.")
            .attribute(Attribute::string("name").description("Only the target group with this name."))
            .attribute(Attribute::string("load_balancer_arn").description("Only target groups this load balancer routes to."))
            .attribute(Attribute::string_map("tags").description("Only target groups with all of these tags.")),
    )
}
