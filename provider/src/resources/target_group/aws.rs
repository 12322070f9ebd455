//! The target group's AWS calls: describe (group, attributes, tags), create, modify, attribute
//! writes, delete, and finding what still forwards to a group.

use std::collections::{BTreeMap, HashMap};

use tgbind_aws::elbv2::error::SdkError;
use tgbind_aws::elbv2::operation::delete_target_group::DeleteTargetGroupError;
use tgbind_aws::elbv2::types::{Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetTypeEnum};
use tgbind_aws::{classify, elbv2, ErrorKind};

use super::model::{HealthCheckSettings, RemoteTargetGroup};
use crate::context::Elbv2Context;
use crate::framework::Diagnostics;
use crate::resources::coalesce::ReadError;
use crate::resources::read_ahead::list_pages;
use crate::resources::remote::{fetch_tags, from_listing, read_batched, read_error, report, to_tags};
use crate::resources::values::{changed_attributes, i32_of, str_of};
use crate::tfvalue::Value;

/// Sets the health check on a CreateTargetGroup or ModifyTargetGroup request (their builders share
/// these setters): the one place where `health_check {}` becomes API fields.
macro_rules! with_health_check {
    ($request:expr, $hc:expr) => {{
        let hc: &HealthCheckSettings = $hc;
        $request
            .set_health_check_enabled(hc.enabled)
            .set_health_check_path(hc.path.clone())
            .set_health_check_port(hc.port.clone())
            .set_health_check_protocol(hc.protocol.as_deref().map(ProtocolEnum::from))
            .set_health_check_interval_seconds(hc.interval)
            .set_health_check_timeout_seconds(hc.timeout)
            .set_healthy_threshold_count(hc.healthy_threshold)
            .set_unhealthy_threshold_count(hc.unhealthy_threshold)
            .set_matcher(matcher(hc))
    }};
}

fn matcher(hc: &HealthCheckSettings) -> Option<Matcher> {
    let code = hc.matcher.clone()?;
    Some(if hc.grpc {
        Matcher::builder().grpc_code(code).build()
    } else {
        Matcher::builder().http_code(code).build()
    })
}

/// The group as AWS reports it; `None` when it does not exist (or after a reported error).
pub async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteTargetGroup> {
    let reads = &ctx.reads;
    let tg = match from_listing(ctx, &reads.listed_target_groups, "", arn, list_target_groups).await {
        Some(tg) => tg,
        None => {
            read_batched(
                &reads.target_groups,
                &ctx.client,
                arn,
                "DescribeTargetGroups",
                diags,
                describe_target_groups,
            )
            .await??
        }
    };
    let attributes = match ctx.client.describe_target_group_attributes().target_group_arn(arn).send().await {
        Ok(out) => attribute_map(out.attributes()),
        Err(e) => {
            report(diags, "DescribeTargetGroupAttributes", &e);
            return None;
        }
    };
    let tags = fetch_tags(ctx, arn, diags).await?;
    Some(remote_from(&tg, attributes, tags))
}

/// DescribeTargetGroups for up to 20 groups, by ARN.
async fn describe_target_groups(client: elbv2::Client, arns: Vec<String>) -> Result<HashMap<String, TargetGroup>, ReadError> {
    let out = client
        .describe_target_groups()
        .set_target_group_arns(Some(arns))
        .send()
        .await
        .map_err(|e| read_error(&e))?;
    Ok(out
        .target_groups()
        .iter()
        .filter_map(|tg| Some((tg.target_group_arn()?.to_string(), tg.clone())))
        .collect())
}

/// The account's target groups, up to `MAX_PAGES` pages; `None` when the listing failed.
async fn list_target_groups(client: elbv2::Client) -> Option<Vec<(String, TargetGroup)>> {
    list_pages(|marker| {
        let client = client.clone();
        async move {
            let page = client
                .describe_target_groups()
                .page_size(400)
                .set_marker(marker)
                .send()
                .await
                .ok()?;
            let groups = page.target_groups().iter();
            let found = groups.filter_map(|tg| Some((tg.target_group_arn()?.to_string(), tg.clone())));
            Some((found.collect(), page.next_marker().map(str::to_string)))
        }
    })
    .await
}

fn attribute_map(attributes: &[TargetGroupAttribute]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect()
}

/// A target group as AWS describes it (DescribeTargetGroups or CreateTargetGroup), with its
/// attributes and tags.
pub fn remote_from(
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

/// CreateTargetGroup for a plan; the group as AWS answers, `None` after a reported error.
pub async fn create(
    ctx: &Elbv2Context,
    name: &str,
    planned: &Value,
    diags: &mut Diagnostics,
) -> Option<tgbind_aws::elbv2::types::TargetGroup> {
    let request = ctx
        .client
        .create_target_group()
        .name(name)
        .set_port(i32_of(planned.get("port")))
        .set_protocol(str_of(planned.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
        .set_protocol_version(str_of(planned.get("protocol_version")))
        .set_vpc_id(str_of(planned.get("vpc_id")))
        .set_target_type(str_of(planned.get("target_type")).map(|t| TargetTypeEnum::from(t.as_str())))
        .set_ip_address_type(str_of(planned.get("ip_address_type")).map(|t| TargetGroupIpAddressTypeEnum::from(t.as_str())))
        .set_tags(to_tags(&planned.get("tags_all").as_string_map()));
    let created = with_health_check!(request, &HealthCheckSettings::of(planned)).send().await;
    match created {
        Ok(out) => match out.target_groups().first().filter(|tg| tg.target_group_arn().is_some()) {
            Some(tg) => Some(tg.clone()),
            None => {
                diags.error(
                    "CreateTargetGroup returned no target group",
                    "AWS answered without an ARN; nothing to record.",
                );
                None
            }
        },
        Err(e) => {
            report(diags, "CreateTargetGroup", &e);
            None
        }
    }
}

/// ModifyTargetGroup with the planned health check.
pub async fn modify_health_check(ctx: &Elbv2Context, arn: &str, planned: &Value, diags: &mut Diagnostics) {
    let request = ctx.client.modify_target_group().target_group_arn(arn);
    if let Err(e) = with_health_check!(request, &HealthCheckSettings::of(planned)).send().await {
        report(diags, "ModifyTargetGroup", &e);
    }
}

/// Writes the target group attributes that differ from `current`. Returns every attribute of the
/// group as AWS answers the write (`None` when nothing was written or the write failed).
pub async fn write_attributes(
    ctx: &Elbv2Context,
    arn: &str,
    desired: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, String>> {
    let changed: Vec<TargetGroupAttribute> = changed_attributes(desired, current)
        .into_iter()
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

pub async fn delete(ctx: &Elbv2Context, arn: &str) -> Result<(), SdkError<DeleteTargetGroupError>> {
    ctx.client.delete_target_group().target_group_arn(arn).send().await.map(|_| ())
}

/// The listeners and rules that forward to a group, found through the group's load balancers, so
/// an in-use error can say what holds it.
pub async fn users_of(ctx: &Elbv2Context, arn: &str) -> Vec<String> {
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

/// ARNs of the groups with `name` (every group when `None`), for the data source's lookup.
pub async fn arns_by_name(ctx: &Elbv2Context, name: Option<String>) -> Result<Vec<String>, (String, String)> {
    let failed = |message: String| ("DescribeTargetGroups".to_string(), message);
    if let Some(name) = name {
        return match ctx.client.describe_target_groups().names(name).send().await {
            Ok(out) => Ok(out
                .target_groups()
                .iter()
                .filter_map(|t| t.target_group_arn().map(str::to_string))
                .collect()),
            Err(e) if classify(&e) == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(failed(tgbind_aws::error_message(&e))),
        };
    }
    let mut pages = ctx.client.describe_target_groups().into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => arns.extend(out.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string))),
            Err(e) => return Err(failed(tgbind_aws::error_message(&e))),
        }
    }
    Ok(arns)
}

/// ARNs of the groups a `list` block selects: those of a load balancer, or by name (every group
/// when neither is given).
pub async fn list_arns(
    ctx: &Elbv2Context,
    name: Option<String>,
    load_balancer_arn: Option<String>,
) -> Result<Vec<String>, (String, String)> {
    let Some(lb) = load_balancer_arn else {
        return arns_by_name(ctx, name).await;
    };
    let mut pages = ctx.client.describe_target_groups().load_balancer_arn(lb).into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => arns.extend(
                out.target_groups()
                    .iter()
                    .filter(|t| name.is_none() || t.target_group_name() == name.as_deref())
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            ),
            Err(e) if classify(&e) == ErrorKind::NotFound => break,
            Err(e) => return Err(("DescribeTargetGroups".to_string(), tgbind_aws::error_message(&e))),
        }
    }
    Ok(arns)
}
