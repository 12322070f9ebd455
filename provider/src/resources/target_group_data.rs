//! Data source `elbv2_target_group`: one target group by ARN, name or tags, with its registered
//! targets and their health, so a configuration can wait for "the new cluster has N healthy targets"
//! before shifting listener weights.

use async_trait::async_trait;
use tgbind_aws::targets::describe_target_health;
use tgbind_aws::HealthState;

use crate::framework::{Attribute, Block, DataSource, Diagnostics, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::arn::arn_suffix;
use crate::resources::common::{report, require_lookup, single_match};
use crate::resources::target_group::fetch_remote;
use crate::tfvalue::{Type, Value};

pub struct TargetGroupData {
    schema: Schema,
}

impl Default for TargetGroupData {
    fn default() -> Self {
        Self::new()
    }
}

fn object(fields: &[(&str, Type)]) -> Type {
    Type::Object(fields.iter().map(|(k, t)| (k.to_string(), t.clone())).collect())
}

impl TargetGroupData {
    pub fn new() -> Self {
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
        Self {
            schema: Schema::new(0, block),
        }
    }
}

/// ARNs of all target groups (paginated).
async fn all_arns(ctx: &Elbv2Context, diags: &mut Diagnostics) -> Option<Vec<String>> {
    let mut pages = ctx.client.describe_target_groups().into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => arns.extend(out.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string))),
            Err(e) => {
                report(diags, "DescribeTargetGroups", &e);
                return None;
            }
        }
    }
    Some(arns)
}

/// Candidates matching the name or ARN; then filtered by tags.
async fn candidates(ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Option<Vec<String>> {
    if let Some(arn) = config.get("arn").as_str() {
        return Some(vec![arn.to_string()]);
    }
    if let Some(name) = config.get("name").as_str() {
        return match ctx.client.describe_target_groups().names(name).send().await {
            Ok(out) => Some(
                out.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string))
                    .collect(),
            ),
            Err(e) if tgbind_aws::classify(&e) == tgbind_aws::ErrorKind::NotFound => Some(Vec::new()),
            Err(e) => {
                report(diags, "DescribeTargetGroups", &e);
                None
            }
        };
    }
    all_arns(ctx, diags).await
}

#[async_trait]
impl DataSource<Elbv2Context> for TargetGroupData {
    fn type_name(&self) -> &'static str {
        "elbv2_target_group"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        require_lookup(config, "target group", diags);
    }

    async fn read(&self, ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Value {
        let found = candidates(ctx, config, diags).await;
        let Some(arn) = single_match(ctx, found, config, "target group", diags).await else {
            return Value::Null;
        };
        let Some(tg) = fetch_remote(ctx, &arn, diags).await else {
            if !diags.has_errors() {
                diags.error("No matching target group", format!("{arn} does not exist."));
            }
            return Value::Null;
        };
        let health = match describe_target_health(&ctx.client, &arn).await {
            Ok(h) => h,
            Err(e) => {
                diags.error("DescribeTargetHealth failed", e.message);
                return Value::Null;
            }
        };
        let healthy = health.iter().filter(|h| h.state == HealthState::Healthy).count();
        let targets = health
            .iter()
            .map(|h| {
                Value::object([
                    ("id", Value::string(&h.target.id)),
                    ("port", Value::int(h.target.port as i64)),
                    ("state", Value::string(h.state.as_str())),
                    ("reason", Value::opt_string(h.reason.clone())),
                ])
            })
            .collect();
        Value::object([
            ("arn", Value::string(&arn)),
            ("id", Value::string(&arn)),
            ("arn_suffix", Value::string(arn_suffix(&arn))),
            ("name", Value::string(&tg.name)),
            ("tags", Value::string_map(tg.tags.clone())),
            ("port", Value::opt_i64(tg.port)),
            ("protocol", Value::opt_string(tg.protocol.clone())),
            ("protocol_version", Value::opt_string(tg.protocol_version.clone())),
            ("vpc_id", Value::opt_string(tg.vpc_id.clone())),
            ("target_type", Value::opt_string(tg.target_type.clone())),
            ("ip_address_type", Value::opt_string(tg.ip_address_type.clone())),
            (
                "deregistration_delay",
                Value::opt_i64(
                    tg.attributes
                        .get("deregistration_delay.timeout_seconds")
                        .and_then(|s| s.parse().ok()),
                ),
            ),
            ("load_balancer_arns", Value::string_set(tg.load_balancer_arns.clone())),
            ("health_check", Value::List(vec![tg.health_check_value()])),
            ("targets", Value::List(targets)),
            ("healthy_target_count", Value::int(healthy as i64)),
        ])
    }
}
