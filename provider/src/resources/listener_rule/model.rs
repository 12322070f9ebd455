//! Pure decisions for `elbv2_listener_rule`: cross-field rules, conditions to and from the API,
//! priority choice and the state for what AWS reports.

use std::collections::BTreeMap;

use tgbind_aws::elbv2::types::{
    Action, HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig, PathPatternConditionConfig,
    QueryStringConditionConfig, QueryStringKeyValuePair, RuleCondition, SourceIpConditionConfig,
};

use crate::framework::tags::tags_from_remote;
use crate::framework::Diagnostics;
use crate::resources::actions;
use crate::resources::values::{order_like, str_of, strings_of};
use crate::tfvalue::{AttributePath, Value};

/// Condition blocks: (block name, API field name).
const CONDITIONS: &[(&str, &str)] = &[
    ("host_header", "host-header"),
    ("path_pattern", "path-pattern"),
    ("http_header", "http-header"),
    ("http_request_method", "http-request-method"),
    ("query_string", "query-string"),
    ("source_ip", "source-ip"),
];

pub const MAX_PRIORITY: i64 = 50_000;

/// The action ARNs, once known (before the create or update call).
pub fn check_values(planned: &Value, diags: &mut Diagnostics) {
    actions::check_values(planned.get("action"), &AttributePath::attr("action"), diags);
}

pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let at = AttributePath::attr;
    actions::validate(config.get("action"), &at("action"), diags);
    for (i, c) in config.get("condition").elements().iter().enumerate() {
        let kinds: Vec<&str> = CONDITIONS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !c.get(name).elements().is_empty() || c.get(name).is_unknown())
            .collect();
        if kinds.len() != 1 {
            diags.error_at(
                &at("condition").index(i),
                "Invalid condition",
                format!(
                    "Each `condition` block holds exactly one of {}; found {}.",
                    CONDITIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                    if kinds.is_empty() {
                        "none".to_string()
                    } else {
                        kinds.join(" and ")
                    }
                ),
            );
        }
    }
}

fn values(block: &Value) -> Option<Vec<String>> {
    Some(strings_of(block.get("values")))
}

/// The API form of one condition block.
pub fn condition_to_sdk(c: &Value) -> RuleCondition {
    let b = RuleCondition::builder();
    let first = |name: &str| c.first_block(name);
    if first("host_header").is_set() {
        let cfg = HostHeaderConditionConfig::builder()
            .set_values(values(first("host_header")))
            .build();
        return b.field("host-header").host_header_config(cfg).build();
    }
    if first("path_pattern").is_set() {
        let cfg = PathPatternConditionConfig::builder()
            .set_values(values(first("path_pattern")))
            .build();
        return b.field("path-pattern").path_pattern_config(cfg).build();
    }
    if first("http_header").is_set() {
        let h = first("http_header");
        let cfg = HttpHeaderConditionConfig::builder()
            .set_http_header_name(str_of(h.get("http_header_name")))
            .set_values(values(h))
            .build();
        return b.field("http-header").http_header_config(cfg).build();
    }
    if first("http_request_method").is_set() {
        let cfg = HttpRequestMethodConditionConfig::builder()
            .set_values(values(first("http_request_method")))
            .build();
        return b.field("http-request-method").http_request_method_config(cfg).build();
    }
    if first("source_ip").is_set() {
        let cfg = SourceIpConditionConfig::builder().set_values(values(first("source_ip"))).build();
        return b.field("source-ip").source_ip_config(cfg).build();
    }
    let pairs = c
        .get("query_string")
        .elements()
        .iter()
        .map(|q| {
            QueryStringKeyValuePair::builder()
                .set_key(str_of(q.get("key")))
                .set_value(str_of(q.get("value")))
                .build()
        })
        .collect();
    b.field("query-string")
        .query_string_config(QueryStringConditionConfig::builder().set_values(Some(pairs)).build())
        .build()
}

/// The condition block for one condition AWS reports.
pub fn condition_from_sdk(c: &RuleCondition) -> Value {
    let field = c.field().unwrap_or_default();
    let legacy = c.values();
    let set = |vals: &[String]| Value::string_set(if vals.is_empty() { legacy } else { vals }.iter().cloned());
    let one = |v: Value| Value::List(vec![Value::object([("values", v)])]);
    let mut blocks: BTreeMap<&str, Value> = CONDITIONS.iter().map(|(name, _)| (*name, Value::List(vec![]))).collect();
    match field {
        "host-header" => {
            blocks.insert("host_header", one(set(c.host_header_config().map_or(&[][..], |h| h.values()))));
        }
        "path-pattern" => {
            blocks.insert("path_pattern", one(set(c.path_pattern_config().map_or(&[][..], |h| h.values()))));
        }
        "http-header" => {
            let h = c.http_header_config();
            blocks.insert(
                "http_header",
                Value::List(vec![Value::object([
                    ("http_header_name", Value::opt_string(h.and_then(|h| h.http_header_name()))),
                    ("values", set(h.map_or(&[][..], |h| h.values()))),
                ])]),
            );
        }
        "http-request-method" => {
            blocks.insert(
                "http_request_method",
                one(set(c.http_request_method_config().map_or(&[][..], |h| h.values()))),
            );
        }
        "source-ip" => {
            blocks.insert("source_ip", one(set(c.source_ip_config().map_or(&[][..], |h| h.values()))));
        }
        "query-string" => {
            let pairs = c
                .query_string_config()
                .map(|q| q.values())
                .unwrap_or_default()
                .iter()
                .map(|p| Value::object([("key", Value::opt_string(p.key())), ("value", Value::opt_string(p.value()))]))
                .collect();
            blocks.insert("query_string", Value::List(pairs));
        }
        _ => {}
    }
    Value::Object(blocks.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The priority for a new rule: one above the highest in use (so rules appended later land after
/// earlier ones), or the lowest free one when the top is taken.
pub fn next_priority(in_use: &[i64]) -> Option<i64> {
    let highest = in_use.iter().copied().max().unwrap_or(0);
    if highest < MAX_PRIORITY {
        return Some(highest + 1);
    }
    (1..=MAX_PRIORITY).find(|p| !in_use.contains(p))
}

/// What AWS reports about a rule, in plain Rust (filled by the I/O layer).
#[derive(Debug, Clone, Default)]
pub struct RemoteRule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: Option<i64>,
    pub actions: Vec<Action>,
    pub conditions: Vec<RuleCondition>,
    pub tags: BTreeMap<String, String>,
}

pub fn state_from_remote(remote: &RemoteRule, prior: &Value, default_tags: &BTreeMap<String, String>) -> Value {
    let conditions = remote.conditions.iter().map(condition_from_sdk).collect();
    let conditions = order_like(prior.get("condition").elements(), conditions, |p, r| p == r);
    Value::object([
        ("arn", Value::string(&remote.arn)),
        ("id", Value::string(&remote.arn)),
        ("listener_arn", Value::string(&remote.listener_arn)),
        ("priority", Value::opt_i64(remote.priority)),
        ("tags", tags_from_remote(&remote.tags, default_tags, prior.get("tags"))),
        ("tags_all", Value::string_map(remote.tags.clone())),
        ("action", actions::list_from_sdk(&remote.actions, prior.get("action"))),
        ("condition", Value::List(conditions)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(kind: &str, vals: &[&str]) -> Value {
        let mut c = condition_from_sdk(&RuleCondition::builder().build());
        c.set(
            kind,
            Value::List(vec![Value::object([("values", Value::string_set(vals.iter().copied()))])]),
        );
        c
    }

    #[test]
    fn priorities_go_after_the_highest_and_fill_gaps_at_the_top() {
        assert_eq!(next_priority(&[]), Some(1));
        assert_eq!(next_priority(&[5, 2]), Some(6));
        assert_eq!(next_priority(&[MAX_PRIORITY, 1]), Some(2));
        let all: Vec<i64> = (1..=MAX_PRIORITY).collect();
        assert_eq!(next_priority(&all), None);
    }

    #[test]
    fn conditions_round_trip() {
        for (kind, _) in CONDITIONS.iter().filter(|(k, _)| *k != "http_header" && *k != "query_string") {
            let c = condition(kind, &["/a/*", "/b"]);
            assert_eq!(condition_from_sdk(&condition_to_sdk(&c)), c, "{kind}");
        }
        let mut h = condition_from_sdk(&RuleCondition::builder().build());
        h.set(
            "http_header",
            Value::List(vec![Value::object([
                ("http_header_name", "X-Env".into()),
                ("values", Value::string_set(["blue"])),
            ])]),
        );
        assert_eq!(condition_from_sdk(&condition_to_sdk(&h)), h);
        let mut q = condition_from_sdk(&RuleCondition::builder().build());
        q.set(
            "query_string",
            Value::List(vec![
                Value::object([("key", "v".into()), ("value", "2".into())]),
                Value::object([("key", Value::Null), ("value", "beta".into())]),
            ]),
        );
        assert_eq!(condition_from_sdk(&condition_to_sdk(&q)), q);
    }

    #[test]
    fn a_condition_holds_exactly_one_match() {
        let mut both = condition("host_header", &["a.example.com"]);
        both.set("path_pattern", condition("path_pattern", &["/x"]).get("path_pattern").clone());
        let config = Value::object([("condition", Value::List(vec![condition("path_pattern", &["/"]), both]))]);
        let paths = Diagnostics::paths_of(validate, &config);
        assert_eq!(paths, ["condition[1]"]);
    }
}
