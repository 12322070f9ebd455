//! `elbv2_target_group`: the resource's AWS calls. Validation, attribute mapping and state shaping
//! are pure functions in `model`.

mod model;
mod schema;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tgbind_aws::elbv2::types::{Matcher, ProtocolEnum, TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetTypeEnum};
use tgbind_aws::{classify, error_message, ErrorKind};

use crate::framework::{Diagnostics, Resource, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::arn::elbv2_arn_kind;
use crate::resources::common::{
    created_but_unread, duration_or, fetch_tags, i32_of, name_for_create, report, str_of, to_tags, update_tags,
};
use crate::resources::tags::plan_tags_all;
use crate::tfvalue::{AttributePath, Value};
pub use model::{desired_attributes, state_from_remote, validate as validate_config, RemoteTargetGroup};

/// How long delete keeps retrying by default while a listener or rule still uses the group (its
/// own deletion may be in flight in the same apply).
const DELETE_IN_USE_RETRY: Duration = Duration::from_secs(120);

pub struct TargetGroup {
    schema: Schema,
}

impl Default for TargetGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl TargetGroup {
    pub fn new() -> Self {
        Self { schema: schema::schema() }
    }
}

pub(crate) async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteTargetGroup> {
    let out = match ctx.client.describe_target_groups().target_group_arns(arn).send().await {
        Ok(out) => out,
        Err(e) if classify(&e) == ErrorKind::NotFound => return None,
        Err(e) => {
            report(diags, "DescribeTargetGroups", &e);
            return None;
        }
    };
    let tg = out.target_groups().first()?;
    let attributes = match ctx.client.describe_target_group_attributes().target_group_arn(arn).send().await {
        Ok(out) => attribute_map(out.attributes()),
        Err(e) => {
            report(diags, "DescribeTargetGroupAttributes", &e);
            return None;
        }
    };
    let tags = fetch_tags(ctx, arn, diags).await?;
    Some(remote_from(tg, attributes, tags))
}

fn attribute_map(attributes: &[TargetGroupAttribute]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect()
}

/// A target group as AWS describes it (DescribeTargetGroups or CreateTargetGroup), with its
/// attributes and tags.
fn remote_from(
    tg: &tgbind_aws::elbv2::types::TargetGroup,
    attributes: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> RemoteTargetGroup {
    let arn = tg.target_group_arn().unwrap_or_default();
    RemoteTargetGroup {
        arn: arn.to_string(),
        name: tg.target_group_name().unwrap_or_default().to_string(),
        port: tg.port().map(i64::from),
        protocol: tg.protocol().map(|p| p.as_str().to_string()),
        protocol_version: tg.protocol_version().map(str::to_string),
        vpc_id: tg.vpc_id().map(str::to_string),
        target_type: tg.target_type().map(|t| t.as_str().to_string()),
        ip_address_type: tg.ip_address_type().map(|t| t.as_str().to_string()),
        load_balancer_arns: tg.load_balancer_arns().to_vec(),
        health_check_enabled: tg.health_check_enabled(),
        health_check_path: tg.health_check_path().map(str::to_string),
        health_check_port: tg.health_check_port().map(str::to_string),
        health_check_protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
        matcher: tg.matcher().and_then(|m| m.http_code().or(m.grpc_code())).map(str::to_string),
        interval: tg.health_check_interval_seconds().map(i64::from),
        timeout: tg.health_check_timeout_seconds().map(i64::from),
        healthy_threshold: tg.healthy_threshold_count().map(i64::from),
        unhealthy_threshold: tg.unhealthy_threshold_count().map(i64::from),
        attributes,
        tags,
    }
}

fn matcher_for(planned: &Value, hc: &Value) -> Option<Matcher> {
    let code = str_of(hc.get("matcher"))?;
    let grpc = planned.get("protocol_version").as_str() == Some("GRPC");
    Some(if grpc {
        Matcher::builder().grpc_code(code).build()
    } else {
        Matcher::builder().http_code(code).build()
    })
}

/// Writes the target group attributes that differ from `current`. Returns every attribute of the
/// group as AWS answers the write (`None` when nothing was written or the write failed).
async fn write_attributes(
    ctx: &Elbv2Context,
    arn: &str,
    desired: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, String>> {
    let changed: Vec<TargetGroupAttribute> = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
        .collect();
    if changed.is_empty() {
        return None;
    }
    match ctx
        .client
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(changed))
        .send()
        .await
    {
        Ok(out) => Some(attribute_map(out.attributes())),
        Err(e) => {
            report(diags, "ModifyTargetGroupAttributes", &e);
            None
        }
    }
}

/// The listeners and rules that forward to a group, found through the group's load balancers, so
/// an in-use error can say what holds it.
async fn users_of(ctx: &Elbv2Context, arn: &str) -> Vec<String> {
    let mut users = Vec::new();
    let Some(remote) = fetch_remote(ctx, arn, &mut Diagnostics::new()).await else {
        return users;
    };
    let forwards_here = |actions: &[tgbind_aws::elbv2::types::Action]| {
        actions.iter().any(|a| {
            a.target_group_arn() == Some(arn)
                || a.forward_config()
                    .is_some_and(|f| f.target_groups().iter().any(|t| t.target_group_arn() == Some(arn)))
        })
    };
    // Some sources (moto after ModifyListener) leave the group's load balancer list empty: then
    // every balancer is searched, which is fine on this error path.
    let mut balancers = remote.load_balancer_arns.clone();
    if balancers.is_empty() {
        let mut pages = ctx.client.describe_load_balancers().into_paginator().send();
        while let Some(Ok(page)) = pages.next().await {
            balancers.extend(
                page.load_balancers()
                    .iter()
                    .filter_map(|lb| lb.load_balancer_arn().map(str::to_string)),
            );
        }
    }
    for lb in &balancers {
        let Ok(listeners) = ctx.client.describe_listeners().load_balancer_arn(lb).send().await else {
            continue;
        };
        for listener in listeners.listeners() {
            let Some(listener_arn) = listener.listener_arn() else { continue };
            if forwards_here(listener.default_actions()) {
                users.push(format!("listener {listener_arn} (default action)"));
            }
            let Ok(rules) = ctx.client.describe_rules().listener_arn(listener_arn).send().await else {
                continue;
            };
            for rule in rules.rules().iter().filter(|r| r.is_default() != Some(true)) {
                if forwards_here(rule.actions()) {
                    users.push(format!("rule {}", rule.rule_arn().unwrap_or_default()));
                }
            }
        }
    }
    users
}

/// What to tell a user whose target group cannot be deleted because traffic still goes to it.
pub fn in_use_detail(aws_message: &str, users: &[String]) -> String {
    let held_by = if users.is_empty() {
        String::new()
    } else {
        format!("\n\nStill forwarding to it:\n  - {}", users.join("\n  - "))
    };
    format!(
        "{aws_message}{held_by}\n\nTo replace a group that a listener or rule uses, give it `name_prefix` instead of `name` and \
         `lifecycle {{ create_before_destroy = true }}`: Terraform then creates the new group, points the listener at it, \
         and deletes the old one last."
    )
}

async fn read_state(ctx: &Elbv2Context, arn: &str, prior: &Value, importing: bool, diags: &mut Diagnostics) -> Value {
    match fetch_remote(ctx, arn, diags).await {
        Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags, importing),
        None => Value::Null,
    }
}

#[async_trait]
impl Resource<Elbv2Context> for TargetGroup {
    fn type_name(&self) -> &'static str {
        "elbv2_target_group"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate_config(config, diags);
    }

    fn modify_plan(&self, ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        planned.set("tags_all", plan_tags_all(&ctx.default_tags, config.get("tags")));
        // AWS gives HTTP(S) groups protocol_version HTTP1 when none is asked for; other groups none.
        if config.get("protocol_version").is_null() && planned.get("protocol_version").is_unknown() {
            match config.get("protocol").as_str() {
                Some("HTTP" | "HTTPS") => planned.set("protocol_version", Value::string("HTTP1")),
                Some(_) => planned.set("protocol_version", Value::Null),
                None => {}
            }
        }
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let name = name_for_create(planned);
        let hc = planned.first_block("health_check");
        let tags_all = planned.get("tags_all").as_string_map();
        let created = ctx
            .client
            .create_target_group()
            .name(&name)
            .set_port(i32_of(planned.get("port")))
            .set_protocol(str_of(planned.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
            .set_protocol_version(str_of(planned.get("protocol_version")))
            .set_vpc_id(str_of(planned.get("vpc_id")))
            .set_target_type(str_of(planned.get("target_type")).map(|t| TargetTypeEnum::from(t.as_str())))
            .set_ip_address_type(str_of(planned.get("ip_address_type")).map(|t| TargetGroupIpAddressTypeEnum::from(t.as_str())))
            .set_health_check_enabled(hc.get("enabled").as_bool())
            .set_health_check_path(str_of(hc.get("path")))
            .set_health_check_port(str_of(hc.get("port")))
            .set_health_check_protocol(str_of(hc.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
            .set_health_check_interval_seconds(i32_of(hc.get("interval")))
            .set_health_check_timeout_seconds(i32_of(hc.get("timeout")))
            .set_healthy_threshold_count(i32_of(hc.get("healthy_threshold")))
            .set_unhealthy_threshold_count(i32_of(hc.get("unhealthy_threshold")))
            .set_matcher(matcher_for(planned, hc))
            .set_tags(to_tags(&tags_all))
            .send()
            .await;
        let created = match created {
            Ok(out) => match out.target_groups().first().filter(|tg| tg.target_group_arn().is_some()) {
                Some(tg) => tg.clone(),
                None => {
                    diags.error(
                        "CreateTargetGroup returned no target group",
                        "AWS answered without an ARN; nothing to record.",
                    );
                    return Value::Null;
                }
            },
            Err(e) => {
                report(diags, "CreateTargetGroup", &e);
                return Value::Null;
            }
        };
        let arn = created.target_group_arn().unwrap_or_default().to_string();
        // The group exists from here on: whatever fails next, its state is returned so Terraform
        // records it (tainted) instead of losing track of it. All attributes are written at once
        // (a new group has AWS's defaults); the answer lists every attribute, and together with
        // the create answer and the tags just set it describes the group without reading it back.
        let written = write_attributes(ctx, &arn, &desired_attributes(planned), &BTreeMap::new(), diags).await;
        let mut state = match written {
            Some(attributes) if !diags.has_errors() => {
                state_from_remote(&remote_from(&created, attributes, tags_all), planned, &ctx.default_tags, false)
            }
            _ => read_state(ctx, &arn, planned, false, diags).await,
        };
        if state.is_null() {
            return created_but_unread(planned, &arn);
        }
        state.set("name_prefix", planned.get("name_prefix").clone());
        state
    }

    async fn read(&self, ctx: &Elbv2Context, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = state.get("arn").as_str() else { return Value::Null };
        read_state(ctx, arn, state, false, diags).await
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Target group has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        let hc = planned.first_block("health_check");
        if hc.is_set() && hc != prior.first_block("health_check") {
            let out = ctx
                .client
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_enabled(hc.get("enabled").as_bool())
                .set_health_check_path(str_of(hc.get("path")))
                .set_health_check_port(str_of(hc.get("port")))
                .set_health_check_protocol(str_of(hc.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
                .set_health_check_interval_seconds(i32_of(hc.get("interval")))
                .set_health_check_timeout_seconds(i32_of(hc.get("timeout")))
                .set_healthy_threshold_count(i32_of(hc.get("healthy_threshold")))
                .set_unhealthy_threshold_count(i32_of(hc.get("unhealthy_threshold")))
                .set_matcher(matcher_for(planned, hc))
                .send()
                .await;
            if let Err(e) = out {
                report(diags, "ModifyTargetGroup", &e);
            }
        }
        write_attributes(ctx, arn, &desired_attributes(planned), &desired_attributes(prior), diags).await;

        update_tags(ctx, arn, prior, planned, diags).await;
        let mut state = read_state(ctx, arn, planned, false, diags).await;
        if state.is_null() {
            diags.error("Target group disappeared during update", format!("{arn} no longer exists."));
            return Value::Null;
        }
        state.set("name_prefix", planned.get("name_prefix").clone());
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = prior.get("arn").as_str() else { return };
        let retry_for = duration_or(prior.get("timeouts").get("delete"), DELETE_IN_USE_RETRY);
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            match ctx.client.delete_target_group().target_group_arn(arn).send().await {
                Ok(_) => return,
                Err(e) if classify(&e) == ErrorKind::NotFound => return,
                Err(e) if classify(&e) == ErrorKind::InUse && started.elapsed() + wait < retry_for => {
                    tracing::info!(arn, "target group still in use; retrying delete");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) if classify(&e) == ErrorKind::InUse => {
                    let users = users_of(ctx, arn).await;
                    diags.error("Target group still in use", in_use_detail(&error_message(&e), &users));
                    return;
                }
                Err(e) => {
                    diags.error("DeleteTargetGroup failed", error_message(&e));
                    return;
                }
            }
        }
    }

    async fn import(&self, ctx: &Elbv2Context, id: &str, diags: &mut Diagnostics) -> Value {
        if elbv2_arn_kind(id) != Some("targetgroup") {
            diags.error_at(
                &AttributePath::root(),
                "Invalid import ID",
                format!("{id:?} is not a target group ARN (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)."),
            );
            return Value::Null;
        }
        read_state(ctx, id, &Value::Null, true, diags).await
    }

    fn upgrade_state(&self, from_version: i64, raw: serde_json::Value, diags: &mut Diagnostics) -> serde_json::Value {
        match from_version {
            0 => model::upgrade_v0(raw),
            v if v == schema::SCHEMA_VERSION => raw,
            v => {
                diags.error(
                    "Unknown state version",
                    format!(
                        "elbv2_target_group state version {v} is newer than this provider (version {}); upgrade the provider.",
                        schema::SCHEMA_VERSION
                    ),
                );
                raw
            }
        }
    }
}
