//! The schema of `elbv2_listener_rule`.

use super::model;
use crate::framework::{validators as v, Attribute, Block, NestedBlock, Schema};
use crate::resources::actions;

fn values_block(what: &str) -> Block {
    Block::new().attribute(Attribute::string_set("values").required().description(what))
}

pub fn schema() -> Schema {
    let condition = Block::new()
        .block(
            NestedBlock::list(
                "host_header",
                values_block("Host names, with `*` and `?` wildcards; any may match."),
            )
            .max_items(1)
            .with_description("Matches the Host header."),
        )
        .block(
            NestedBlock::list(
                "path_pattern",
                values_block("Path patterns, with `*` and `?` wildcards; any may match."),
            )
            .max_items(1)
            .with_description("Matches the request path."),
        )
        .block(
            NestedBlock::list(
                "http_header",
                values_block("Header values, with `*` and `?` wildcards; any may match.")
                    .attribute(Attribute::string("http_header_name").required().description("Name of the header.")),
            )
            .max_items(1)
            .with_description("Matches an HTTP header."),
        )
        .block(
            NestedBlock::list(
                "http_request_method",
                values_block("Methods such as `GET` or `POST`; any may match."),
            )
            .max_items(1)
            .with_description("Matches the request method."),
        )
        .block(
            NestedBlock::list(
                "query_string",
                Block::new()
                    .attribute(Attribute::string("key").description("Query key; any key when left out."))
                    .attribute(
                        Attribute::string("value")
                            .required()
                            .description("Query value, with `*` and `?` wildcards."),
                    ),
            )
            .with_description("Matches query string pairs; any block may match."),
        )
        .block(
            NestedBlock::list("source_ip", values_block("Client CIDR blocks; any may match."))
                .max_items(1)
                .with_description("Matches the client's source address."),
        );
    let block = Block::new()
        .description("A listener rule: requests matching all its conditions get its action, rules being tried by ascending priority.")
        .attribute(Attribute::string("arn").computed().description("ARN of the rule."))
        .attribute(Attribute::string("id").computed().description("Same as `arn`."))
        .attribute(Attribute::string("listener_arn").required().requires_replace().description("ARN of the listener."))
        .attribute(
            Attribute::number("priority")
                .optional_computed()
                .description("Priority, 1-50000, unique per listener; lower is tried first. When left out, the next free priority after the listener's highest is taken; rules created in parallel never collide.")
                .validate(v::int_between(1, model::MAX_PRIORITY)),
        )
        .attribute(Attribute::string_map("tags").description("Tags of the rule."))
        .attribute(Attribute::string_map("tags_all").computed().description("All tags, including the provider's `default_tags`."))
        .block(actions::action_block("action").with_description("What happens to matching requests: `forward`, `redirect` or `fixed-response`."))
        .block(NestedBlock::list("condition", condition).min_items(1).max_items(5).with_description("A condition; a request must match all of them. Each block holds exactly one kind of match."));
    Schema::new(0, block).check(model::validate).apply_check(model::check_values)
}

/// The `config` of a `list "elbv2_listener_rule"` block (`terraform query`).
pub fn list_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .description("Lists the rules of a listener (not its default rule, which is the listener's `default_action`).")
            .attribute(
                Attribute::string("listener_arn")
                    .required()
                    .description("The listener whose rules are listed."),
            )
            .attribute(Attribute::string_map("tags").description("Only rules with all of these tags.")),
    )
}
