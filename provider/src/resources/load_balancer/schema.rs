use super::model;
use crate::framework::{validators as v, Attribute, Block, NestedBlock, Schema};
use crate::resources::values::{require_lookup, timeouts_block};

pub const TYPES: &[&str] = &["application", "network", "gateway"];

pub fn schema() -> Schema {
    let logs = Block::new()
        .attribute(Attribute::string("bucket").required().description("S3 bucket for the logs."))
        .attribute(Attribute::string("prefix").description("Key prefix inside the bucket."))
        .attribute(
            Attribute::bool("enabled")
                .default(true)
                .description("Whether logs are written. Default `true`."),
        );
    let subnet_mapping = Block::new()
        .attribute(
            Attribute::string("subnet_id")
                .required()
                .description("Subnet to place the load balancer in."),
        )
        .attribute(Attribute::string("allocation_id").description("Elastic IP allocation for an internet-facing network load balancer."))
        .attribute(Attribute::string("private_ipv4_address").description("Private IPv4 address for an internal network load balancer."))
        .attribute(Attribute::string("ipv6_address").description("IPv6 address for a dualstack network load balancer."));
    let block = Block::new()
        .description("An application, network or gateway load balancer. Listeners (`elbv2_listener`) and their rules (`elbv2_listener_rule`) route its traffic to target groups.")
        .attribute(Attribute::string("arn").computed().description("ARN of the load balancer."))
        .attribute(Attribute::string("id").computed().description("Same as `arn`."))
        .attribute(Attribute::string("arn_suffix").computed().description("`app/<name>/<id>` or `net/<name>/<id>`, for CloudWatch metrics."))
        .attribute(Attribute::string("dns_name").computed().description("DNS name of the load balancer."))
        .attribute(Attribute::string("zone_id").computed().description("Route 53 hosted zone of `dns_name`, for alias records."))
        .attribute(Attribute::string("vpc_id").computed().description("VPC of the load balancer's subnets."))
        .attribute(
            Attribute::string("name")
                .optional_computed()
                .requires_replace()
                .description("Name, unique per region and account: 1-32 letters, digits and hyphens, not starting or ending with a hyphen nor starting with `internal-`. Generated when neither `name` nor `name_prefix` is set.")
                .validate(v::string_length(1, 32))
                .validate(v::matches(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$", "only letters, digits and hyphens, not starting or ending with a hyphen")),
        )
        .attribute(
            Attribute::string("name_prefix")
                .requires_replace()
                .description("Creates a unique name beginning with this prefix (at most 6 characters).")
                .validate(v::string_length(1, 6))
                .validate(v::matches(r"^[A-Za-z0-9][A-Za-z0-9-]*$", "only letters, digits and hyphens, not starting with a hyphen")),
        )
        .attribute(
            Attribute::string("load_balancer_type")
                .default("application")
                .requires_replace()
                .description("`application` (default), `network` or `gateway`.")
                .validate(v::one_of(TYPES)),
        )
        .attribute(Attribute::bool("internal").default(false).requires_replace().description("Whether the load balancer is internal (private addresses only). Default `false`: internet-facing."))
        .attribute(Attribute::string_set("subnets").optional_computed().description("Subnets to place the load balancer in (an application load balancer needs two in different zones). Changing them replaces a network load balancer; set `subnets` or `subnet_mapping`."))
        .attribute(Attribute::string_set("security_groups").optional_computed().description("Security groups of the load balancer."))
        .attribute(
            Attribute::string("ip_address_type")
                .optional_computed()
                .description("`ipv4` or `dualstack`.")
                .validate(v::one_of(&["ipv4", "dualstack"])),
        )
        .attribute(
            Attribute::number("idle_timeout")
                .optional_computed()
                .description("Seconds a connection may stay idle, 1-4000; application load balancers only (others ignore it, with a warning). Default 60.")
                .validate(v::int_between(1, 4000)),
        )
        .attribute(Attribute::bool("enable_deletion_protection").default(false).description("When `true`, the provider refuses to delete the load balancer (and so does AWS). Default `false`."))
        .attribute(Attribute::bool("enable_http2").optional_computed().description("Whether HTTP/2 is on; application load balancers only. Default `true`."))
        .attribute(Attribute::bool("drop_invalid_header_fields").optional_computed().description("Whether headers with invalid names are dropped; application load balancers only. Default `false`."))
        .attribute(Attribute::bool("enable_cross_zone_load_balancing").optional_computed().description("Whether targets in every zone get traffic from every zone; network and gateway load balancers only (application load balancers always do, and ignore it). Default `false`."))
        .attribute(
            Attribute::string("desync_mitigation_mode")
                .optional_computed()
                .description("How requests that may cause HTTP desync are handled: `monitor`, `defensive` (default) or `strictest`; application load balancers only.")
                .validate(v::one_of(&["monitor", "defensive", "strictest"])),
        )
        .attribute(Attribute::bool("enable_waf_fail_open").optional_computed().description("Whether requests pass when AWS WAF cannot be reached; application load balancers only. Default `false`."))
        .attribute(Attribute::bool("enable_xff_client_port").optional_computed().description("Whether `X-Forwarded-For` carries the client's source port; application load balancers only. Default `false`."))
        .attribute(
            Attribute::string("xff_header_processing_mode")
                .optional_computed()
                .description("What happens to `X-Forwarded-For`: `append` (default), `preserve` or `remove`; application load balancers only.")
                .validate(v::one_of(&["append", "preserve", "remove"])),
        )
        .attribute(Attribute::bool("enable_tls_version_and_cipher_suite_headers").optional_computed().description("Whether requests carry the TLS version and cipher suite of the client connection (`x-amzn-tls-version`, `x-amzn-tls-cipher-suite`); application load balancers only. Default `false`."))
        .attribute(Attribute::bool("preserve_host_header").optional_computed().description("Whether the `Host` header reaches targets unchanged (port included); application load balancers only. Default `false`."))
        .attribute(
            Attribute::number("client_keep_alive")
                .optional_computed()
                .description("Seconds a client connection may be reused, 60-604800; application load balancers only. Default 3600.")
                .validate(v::int_between(60, 604_800)),
        )
        .attribute(
            Attribute::string("dns_record_client_routing_policy")
                .optional_computed()
                .description("How clients are spread over zones by DNS: `any_availability_zone` (default), `availability_zone_affinity` or `partial_availability_zone_affinity`; network load balancers only.")
                .validate(v::one_of(&["any_availability_zone", "availability_zone_affinity", "partial_availability_zone_affinity"])),
        )
        .attribute(
            Attribute::string("enforce_security_group_inbound_rules_on_private_link_traffic")
                .optional_computed()
                .description("`on` (default) or `off`: whether the security groups' inbound rules apply to PrivateLink traffic; network load balancers with security groups only.")
                .validate(v::one_of(&["on", "off"])),
        )
        .attribute(Attribute::bool("enable_zonal_shift").optional_computed().description("Whether Route 53 Application Recovery Controller zonal shift is on; application and network load balancers. Default `false`."))
        .attribute(Attribute::string_map("tags").description("Tags of the load balancer."))
        .attribute(Attribute::string_map("tags_all").computed().description("All tags, including the provider's `default_tags`."))
        .block(NestedBlock::list("access_logs", logs.clone()).max_items(1).with_description("Where access logs go."))
        .block(NestedBlock::list("connection_logs", logs).max_items(1).with_description("Where connection logs go; application load balancers only."))
        .block(NestedBlock::set("subnet_mapping", subnet_mapping).requires_replace().with_description("Subnets with fixed addresses, instead of `subnets`. Changing them replaces the load balancer."))
        .block(timeouts_block(&[
            ("create", "the load balancer to become active (default `10m`)"),
            ("delete", "the load balancer to be gone (default `10m`)"),
        ]));
    Schema::new(0, block)
        .check(model::validate)
        .blank_is_unset(&["name", "name_prefix"])
        .keeps_blocks(&["access_logs", "connection_logs"])
}

/// The data source `elbv2_load_balancer`: the resource's attributes, read-only, found by `arn`,
/// `name` or `tags`.
pub fn data_source_schema() -> Schema {
    let block = schema()
        .block
        .as_data_source(&["arn", "name", "tags"], &["name_prefix", "tags_all", "timeouts"])
        .description("Looks up one load balancer by `arn`, `name` or `tags` (an error unless exactly one matches).");
    Schema::new(0, block).check(require_lookup)
}

/// The `config` of a `list "elbv2_load_balancer"` block (`terraform query`).
pub fn list_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .description("Lists load balancers, all of them or those with a name and tags.")
            .attribute(Attribute::string("name").description("Only the load balancer with this name."))
            .attribute(Attribute::string_map("tags").description("Only load balancers with all of these tags.")),
    )
}
