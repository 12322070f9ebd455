//! Small pieces every elbv2 resource shares: value conversions, AWS error reporting, unique names,
//! tag reads and writes.

use std::collections::BTreeMap;
use std::time::Duration;

use tgbind_aws::elbv2::types::Tag;
use tgbind_aws::error_message;

use crate::framework::{validators, Attribute, Block, Diagnostics, NestedBlock};
use crate::provider_config::Elbv2Context;
use crate::resources::tags::tag_changes;
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
    match (planned.get("name").as_str(), planned.get("name_prefix").as_str()) {
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

pub fn to_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())
}

pub fn report<E>(diags: &mut Diagnostics, what: &str, err: &E)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    diags.error(format!("{what} failed"), error_message(err));
}

/// Tags of one object, or `None` after reporting an error.
pub async fn fetch_tags(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
    match ctx.client.describe_tags().resource_arns(arn).send().await {
        Ok(out) => Some(
            out.tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect(),
        ),
        Err(e) => {
            report(diags, "DescribeTags", &e);
            None
        }
    }
}

/// Writes the tag changes from `prior.tags_all` to `planned.tags_all`: removals, then additions.
pub async fn update_tags(ctx: &Elbv2Context, arn: &str, prior: &Value, planned: &Value, diags: &mut Diagnostics) {
    let (upserts, removals) = tag_changes(&prior.get("tags_all").as_string_map(), &planned.get("tags_all").as_string_map());
    if !removals.is_empty() {
        if let Err(e) = ctx
            .client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(removals))
            .send()
            .await
        {
            report(diags, "RemoveTags", &e);
        }
    }
    if let Some(tags) = to_tags(&upserts) {
        if let Err(e) = ctx.client.add_tags().resource_arns(arn).set_tags(Some(tags)).send().await {
            report(diags, "AddTags", &e);
        }
    }
}

/// The candidates whose tags include every wanted tag (DescribeTags takes 20 ARNs per call), for
/// data source lookups by tags.
pub async fn filter_by_tags(
    ctx: &Elbv2Context,
    arns: Vec<String>,
    wanted: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<Vec<String>> {
    if wanted.is_empty() {
        return Some(arns);
    }
    let mut out = Vec::new();
    for batch in arns.chunks(20) {
        match ctx.client.describe_tags().set_resource_arns(Some(batch.to_vec())).send().await {
            Ok(res) => {
                for d in res.tag_descriptions() {
                    let tags: BTreeMap<&str, &str> = d
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
                        .collect();
                    if wanted.iter().all(|(k, v)| tags.get(k.as_str()) == Some(&v.as_str())) {
                        out.extend(d.resource_arn().map(str::to_string));
                    }
                }
            }
            Err(e) => {
                report(diags, "DescribeTags", &e);
                return None;
            }
        }
    }
    Some(out)
}

/// Data sources find one object by `arn`, `name` or `tags`: at least one must be set.
pub fn require_lookup(config: &Value, what: &str, diags: &mut Diagnostics) {
    if ["arn", "name", "tags"].iter().all(|k| config.get(k).is_null()) {
        diags.error_at(
            &crate::tfvalue::AttributePath::root(),
            "Missing lookup argument",
            format!("Set `arn`, `name` or `tags` to choose the {what}."),
        );
    }
}

/// The one candidate that carries every tag the lookup's `tags` names, or `None` after an error
/// saying there were none or several.
pub async fn single_match(
    ctx: &Elbv2Context,
    candidates: Option<Vec<String>>,
    config: &Value,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    let matches = filter_by_tags(ctx, candidates?, &config.get("tags").as_string_map(), diags).await?;
    exactly_one(matches, what, diags)
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
