//! The listener rule's AWS calls.

use std::collections::{BTreeMap, HashMap};

use tgbind_aws::elbv2::types::{Action, Rule, RuleCondition, RulePriorityPair};
use tgbind_aws::{classify, elbv2, error_message, Elbv2Arn, ErrorKind};

use super::model::{condition_to_sdk, RemoteRule};
use crate::context::Elbv2Context;
use crate::framework::Diagnostics;
use crate::resources::actions;
use crate::resources::coalesce::ReadError;
use crate::resources::read_ahead::list_pages;
use crate::resources::remote::{fetch_tags, from_listing, read_batched, read_error, report, to_tags};
use crate::tfvalue::Value;

/// Priorities of a listener's rules (the default rule has none).
pub async fn priorities_in_use(ctx: &Elbv2Context, listener_arn: &str, diags: &mut Diagnostics) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .client
            .describe_rules()
            .listener_arn(listener_arn)
            .set_marker(marker.take())
            .send()
            .await;
        match page {
            Ok(page) => {
                out.extend(page.rules().iter().filter_map(|r| r.priority()?.parse::<i64>().ok()));
                match page.next_marker() {
                    Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => return Some(out),
                }
            }
            Err(e) => {
                report(diags, "DescribeRules", &e);
                return None;
            }
        }
    }
}

/// The rule as AWS reports it; `None` when it does not exist (or after a reported error).
pub async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteRule> {
    let reads = &ctx.reads;
    let listener = Elbv2Arn::parse(arn).and_then(|a| a.parent()).unwrap_or_default();
    let listed = from_listing(ctx, &reads.listed_rules, &listener, arn, |client| {
        list_rules(client, listener.clone())
    });
    let rule = match listed.await {
        Some(rule) => rule,
        None => read_batched(&reads.rules, &ctx.client, arn, "DescribeRules", diags, describe_rules).await??,
    };
    let tags = fetch_tags(ctx, arn, diags).await?;
    Some(remote_from(&rule, tags))
}

/// A listener's rules, up to `MAX_PAGES` pages; `None` when the listing failed.
async fn list_rules(client: elbv2::Client, listener: String) -> Option<Vec<(String, Rule)>> {
    list_pages(|marker| {
        let (client, listener) = (client.clone(), listener.clone());
        async move {
            let request = client.describe_rules().listener_arn(listener).page_size(400);
            let page = request.set_marker(marker).send().await.ok()?;
            let found = page.rules().iter().filter_map(|r| Some((r.rule_arn()?.to_string(), r.clone())));
            Some((found.collect(), page.next_marker().map(str::to_string)))
        }
    })
    .await
}

/// DescribeRules for up to 20 rules, by ARN.
async fn describe_rules(client: elbv2::Client, arns: Vec<String>) -> Result<HashMap<String, Rule>, ReadError> {
    let out = client
        .describe_rules()
        .set_rule_arns(Some(arns))
        .send()
        .await
        .map_err(|e| read_error(&e))?;
    Ok(out
        .rules()
        .iter()
        .filter_map(|r| Some((r.rule_arn()?.to_string(), r.clone())))
        .collect())
}

/// A rule as AWS describes it (DescribeRules or CreateRule), with its tags.
pub fn remote_from(rule: &Rule, tags: BTreeMap<String, String>) -> RemoteRule {
    let arn = rule.rule_arn().unwrap_or_default();
    RemoteRule {
        arn: arn.to_string(),
        // A rule's ARN names its listener.
        listener_arn: Elbv2Arn::parse(arn).and_then(|a| a.parent()).unwrap_or_default(),
        priority: rule.priority().and_then(|p| p.parse().ok()),
        actions: rule.actions().to_vec(),
        conditions: rule.conditions().to_vec(),
        tags,
    }
}

fn sdk_actions(planned: &Value) -> Vec<Action> {
    actions::list_to_sdk(planned.get("action"))
}

fn sdk_conditions(planned: &Value) -> Vec<RuleCondition> {
    planned.get("condition").elements().iter().map(condition_to_sdk).collect()
}

/// Why a CreateRule did not create a rule.
pub enum CreateFailed {
    /// Another rule has the priority.
    PriorityInUse,
    /// Reported in the diagnostics.
    Reported,
}

/// Creates the rule at `priority`.
pub async fn create_at(
    ctx: &Elbv2Context,
    planned: &Value,
    listener_arn: &str,
    priority: i64,
    diags: &mut Diagnostics,
) -> Result<Rule, CreateFailed> {
    let out = ctx
        .client
        .create_rule()
        .listener_arn(listener_arn)
        .priority(priority as i32)
        .set_actions(Some(sdk_actions(planned)))
        .set_conditions(Some(sdk_conditions(planned)))
        .set_tags(to_tags(&planned.get("tags_all").as_string_map()))
        .send()
        .await;
    match out {
        Ok(out) => out.rules().iter().find(|r| r.rule_arn().is_some()).cloned().ok_or_else(|| {
            diags.error("CreateRule returned no rule", "AWS answered without an ARN; nothing to record.");
            CreateFailed::Reported
        }),
        Err(e) if e.as_service_error().and_then(|s| tgbind_aws::error_code(s)) == Some("PriorityInUse") => Err(CreateFailed::PriorityInUse),
        Err(e) => {
            report(diags, "CreateRule", &e);
            Err(CreateFailed::Reported)
        }
    }
}

/// ModifyRule with the planned actions and conditions.
pub async fn modify(ctx: &Elbv2Context, arn: &str, planned: &Value, diags: &mut Diagnostics) {
    let out = ctx
        .client
        .modify_rule()
        .rule_arn(arn)
        .set_actions(Some(sdk_actions(planned)))
        .set_conditions(Some(sdk_conditions(planned)))
        .send()
        .await;
    if let Err(e) = out {
        report(diags, "ModifyRule", &e);
    }
}

pub async fn set_priority(ctx: &Elbv2Context, arn: &str, priority: i32, diags: &mut Diagnostics) {
    let pair = RulePriorityPair::builder().rule_arn(arn).priority(priority).build();
    if let Err(e) = ctx.client.set_rule_priorities().rule_priorities(pair).send().await {
        report(diags, "SetRulePriorities", &e);
    }
}

pub async fn delete(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) {
    match ctx.client.delete_rule().rule_arn(arn).send().await {
        Ok(_) => {}
        Err(e) if classify(&e) == ErrorKind::NotFound => {}
        Err(e) => diags.error("DeleteRule failed", error_message(&e)),
    }
}

/// ARNs of a listener's rules, its default rule left out (`terraform query`).
pub async fn arns_of_listener(ctx: &Elbv2Context, listener_arn: &str) -> Result<Vec<String>, (String, String)> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        match ctx
            .client
            .describe_rules()
            .listener_arn(listener_arn)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(page) => {
                arns.extend(
                    page.rules()
                        .iter()
                        .filter(|r| r.is_default() != Some(true))
                        .filter_map(|r| r.rule_arn().map(str::to_string)),
                );
                match page.next_marker() {
                    Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => return Ok(arns),
                }
            }
            Err(e) => return Err(("DescribeRules".to_string(), error_message(&e))),
        }
    }
}
