//! Pure pieces every elbv2 resource shares: value conversions, unique names, durations, the
//! `timeouts` block, list ordering and the lookup rules of data sources. No I/O here (the shared
//! AWS calls are in `remote`).

use std::time::Duration;

use tgbind_aws::Elbv2Arn;

use crate::framework::{validators, Attribute, Block, Diagnostics, NestedBlock};
use crate::tfvalue::Value;

pub fn i32_of(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|n| i32::try_from(n).ok())
}

pub fn str_of(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The strings of a list or set value (non-strings skipped).
pub fn strings_of(v: &Value) -> Vec<String> {
    v.elements().iter().filter_map(|e| e.as_str().map(str::to_string)).collect()
}

/// `targetgroup/<name>/<id>`, `app/<name>/<id>`...: the ARN's suffix for CloudWatch dimensions.
pub fn arn_suffix(arn: &str) -> String {
    Elbv2Arn::parse(arn).map(|a| a.suffix()).unwrap_or_default()
}

/// `<prefix><unique suffix>` within `max` characters (32 for every elbv2 name).
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut name = format!("{prefix}{nanos:x}{:x}", std::process::id());
    name.truncate(32);
    name
}

/// The name to create with: `name`, else `name_prefix` plus a unique suffix, else `tf-` plus one.
pub fn name_for_create(planned: &Value) -> String {
    // `""` means unset, as in terraform-provider-aws.
    let set = |name: &str| planned.get(name).as_str().filter(|s| !s.is_empty());
    match (set("name"), set("name_prefix")) {
        (Some(name), _) => name.to_string(),
        (None, Some(prefix)) => unique_name(prefix),
        (None, None) => unique_name("tf-"),
    }
}

/// The state of an object that was created but could not be read back: the plan with its ARN, so
/// Terraform records it (tainted) and the next refresh finds it.
pub fn created_but_unread(planned: &Value, arn: &str) -> Value {
    let mut partial = planned.clone();
    partial.set("arn", Value::string(arn));
    partial.set("id", Value::string(arn));
    partial
}

/// Data sources find one object by `arn`, `name` or `tags`: at least one must be set (a schema
/// check of every data source).
pub fn require_lookup(config: &Value, diags: &mut Diagnostics) {
    if ["arn", "name", "tags"].iter().all(|k| config.get(k).is_null()) {
        diags.error_at(
            &crate::tfvalue::AttributePath::root(),
            "Missing lookup argument",
            "Set `arn`, `name` or `tags` to choose the object to read.",
        );
    }
}

/// The single match of a data source lookup, or an error saying there were none or several.
pub fn exactly_one(matches: Vec<String>, what: &str, diags: &mut Diagnostics) -> Option<String> {
    match matches.len() {
        1 => matches.into_iter().next(),
        0 => {
            diags.error(
                format!("No matching {what}"),
                format!("No {what} matches the given arn, name and tags."),
            );
            None
        }
        n => {
            diags.error(
                format!("Several {what}s match"),
                format!(
                    "{n} {what}s match; narrow the lookup (arn, name or more tags): {}",
                    matches.join(", ")
                ),
            );
            None
        }
    }
}

/// Parses `1h2m3s`-style durations (the `timeouts` block), `default` when unset or malformed.
pub fn duration_or(v: &Value, default: Duration) -> Duration {
    let Some(s) = v.as_str() else { return default };
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let Ok(n) = digits.parse::<u64>() else { return default };
        digits.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return default,
        };
    }
    if !digits.is_empty() || total == 0 {
        return default;
    }
    Duration::from_secs(total)
}

/// A `timeouts { <op> = "10m" }` block for the given operations and what each waits for.
pub fn timeouts_block(ops: &[(&str, &str)]) -> NestedBlock {
    let mut block = Block::new();
    for (op, waits_for) in ops {
        block = block.attribute(
            Attribute::string(op)
                .description(&format!("How long {op} waits for {waits_for}, such as `10m` or `90s`."))
                .validate(validators::matches(
                    r"^(\d+h)?(\d+m)?(\d+s)?$",
                    "must be a duration such as `10m` or `90s`",
                )),
        );
    }
    NestedBlock::single("timeouts", block).with_description("How long to wait for AWS.")
}

/// Reorders `remote` items so those equal to a `prior` item come in the prior's order, the rest
/// after them: AWS may list blocks in another order than the configuration did, which would
/// otherwise show as a diff in a list block.
pub fn order_like(prior: &[Value], remote: Vec<Value>, same: impl Fn(&Value, &Value) -> bool) -> Vec<Value> {
    let mut rest = remote;
    let mut out = Vec::with_capacity(rest.len());
    for p in prior {
        if let Some(i) = rest.iter().position(|r| same(p, r)) {
            out.push(rest.remove(i));
        }
    }
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_like_follows_prior_then_appends_new() {
        let s = |x: &str| Value::string(x);
        let out = order_like(&[s("b"), s("a"), s("gone")], vec![s("a"), s("c"), s("b")], |p, r| p == r);
        assert_eq!(out, vec![s("b"), s("a"), s("c")]);
    }

    #[test]
    fn durations_parse() {
        let d = Duration::from_secs(600);
        assert_eq!(duration_or(&Value::string("1h2m3s"), d), Duration::from_secs(3723));
        assert_eq!(duration_or(&Value::string("90s"), d), Duration::from_secs(90));
        assert_eq!(duration_or(&Value::string("10"), d), d);
        assert_eq!(duration_or(&Value::Null, d), d);
    }

    #[test]
    fn unique_names_fit_and_keep_prefix() {
        let n = unique_name("web-");
        assert!(n.starts_with("web-") && n.len() <= 32);
        assert_ne!(unique_name("a"), unique_name("a"));
    }
}

/// How an ELBv2 attribute (a key with a text value: load balancer, target group or listener
/// attributes) reads as a Terraform value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    Bool,
    Int,
    Str,
}

impl AttributeKind {
    /// The attribute text as a Terraform value.
    pub fn value(self, text: &str) -> Value {
        match self {
            AttributeKind::Bool => Value::Bool(text == "true"),
            AttributeKind::Int => text.parse::<i64>().map_or(Value::Null, Value::int),
            AttributeKind::Str => Value::string(text),
        }
    }
    /// A planned value as the attribute text, when it is known.
    pub fn text(self, v: &Value) -> Option<String> {
        match self {
            AttributeKind::Bool => v.as_bool().map(|b| b.to_string()),
            AttributeKind::Int => v.as_i64().map(|n| n.to_string()),
            AttributeKind::Str => v.as_str().map(str::to_string),
        }
    }
}

/// The entries of `desired` whose value differs from `current`: the writes an attribute-backed
/// setting table needs (load balancer, target group and listener attributes alike).
pub fn changed_attributes(
    desired: &std::collections::BTreeMap<String, String>,
    current: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
