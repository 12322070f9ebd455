//! `elbv2_listener_rule`: the resource's AWS calls, including race-free priority allocation.
//! Schema, conditions and state shaping are pure functions in `model`.

mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tgbind_aws::elbv2::types::{Action, Rule, RuleCondition, RulePriorityPair};
use tgbind_aws::{classify, error_message, ErrorKind};

use crate::framework::{Diagnostics, Resource, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::actions;
use crate::resources::arn::elbv2_arn_kind;
use crate::resources::common::{fetch_tags, i32_of, report, str_of, to_tags, update_tags};
use crate::resources::tags::plan_tags_all;
use crate::tfvalue::{AttributePath, Value};
use model::{condition_to_sdk, next_priority, state_from_remote, RemoteRule};

/// How often a create retries when another writer (another Terraform run, the console) took the
/// priority it chose between reading the rules and creating its own.
const PRIORITY_ATTEMPTS: usize = 5;

/// One lock per listener: Terraform creates resources in parallel through one provider process,
/// so choosing "the next free priority" and creating the rule happen under it, one rule at a time.
/// The lock holds the highest priority this process knows to be in use on the listener, so a batch
/// of rules reads the listener's rules once, not once per rule.
#[derive(Default)]
pub struct PriorityLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<i64>>>>>);

impl PriorityLocks {
    fn for_listener(&self, listener_arn: &str) -> Arc<tokio::sync::Mutex<Option<i64>>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(listener_arn.to_string()).or_default().clone()
    }
}

pub struct ListenerRule {
    schema: Schema,
}

impl Default for ListenerRule {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenerRule {
    pub fn new() -> Self {
        Self { schema: model::schema() }
    }
}

/// Priorities of a listener's rules (the default rule has none).
async fn priorities_in_use(ctx: &Elbv2Context, listener_arn: &str, diags: &mut Diagnostics) -> Option<Vec<i64>> {
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

async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteRule> {
    let out = match ctx.client.describe_rules().rule_arns(arn).send().await {
        Ok(out) => out,
        Err(e) if classify(&e) == ErrorKind::NotFound => return None,
        Err(e) => {
            report(diags, "DescribeRules", &e);
            return None;
        }
    };
    let rule = out.rules().first()?;
    let tags = fetch_tags(ctx, arn, diags).await?;
    Some(remote_from(rule, tags))
}

/// A rule as AWS describes it (DescribeRules or CreateRule), with its tags.
fn remote_from(rule: &Rule, tags: std::collections::BTreeMap<String, String>) -> RemoteRule {
    let arn = rule.rule_arn().unwrap_or_default();
    RemoteRule {
        arn: arn.to_string(),
        listener_arn: listener_of(arn),
        priority: rule.priority().and_then(|p| p.parse().ok()),
        actions: rule.actions().to_vec(),
        conditions: rule.conditions().to_vec(),
        tags,
    }
}

/// A rule's ARN names its listener: `...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>`.
fn listener_of(rule_arn: &str) -> String {
    let base = rule_arn.rsplit_once('/').map_or(rule_arn, |(base, _)| base);
    base.replacen(":listener-rule/", ":listener/", 1)
}

async fn read_state(ctx: &Elbv2Context, arn: &str, prior: &Value, diags: &mut Diagnostics) -> Value {
    match fetch_remote(ctx, arn, diags).await {
        Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags),
        None => Value::Null,
    }
}

fn sdk_actions(planned: &Value) -> Vec<Action> {
    planned.get("action").elements().iter().map(actions::to_sdk).collect()
}

fn sdk_conditions(planned: &Value) -> Vec<RuleCondition> {
    planned.get("condition").elements().iter().map(condition_to_sdk).collect()
}

/// Creates the rule at `priority`; `Err(true)` when that priority is taken.
async fn create_at(ctx: &Elbv2Context, planned: &Value, listener_arn: &str, priority: i64, diags: &mut Diagnostics) -> Result<Rule, bool> {
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
            false
        }),
        Err(e) if e.as_service_error().and_then(|s| tgbind_aws::error_code(s)) == Some("PriorityInUse") => Err(true),
        Err(e) => {
            report(diags, "CreateRule", &e);
            Err(false)
        }
    }
}

#[async_trait]
impl Resource<Elbv2Context> for ListenerRule {
    fn type_name(&self) -> &'static str {
        "elbv2_listener_rule"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        model::validate(config, diags);
    }

    fn modify_plan(&self, ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        planned.set("tags_all", plan_tags_all(&ctx.default_tags, config.get("tags")));
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(listener_arn) = planned.get("listener_arn").as_str() else {
            diags.error_at(
                &AttributePath::attr("listener_arn"),
                "Missing listener",
                "`listener_arn` is required.",
            );
            return Value::Null;
        };
        // Explicit priorities take the lock too, so an automatic choice never races them.
        let lock = ctx.priority_locks.for_listener(listener_arn);
        let mut highest_known = lock.lock().await;
        let rule = if let Some(priority) = planned.get("priority").as_i64() {
            match create_at(ctx, planned, listener_arn, priority, diags).await {
                Ok(rule) => rule,
                Err(true) => {
                    diags.error_at(
                        &AttributePath::attr("priority"),
                        "Priority in use",
                        format!("Another rule of {listener_arn} has priority {priority}. Choose another, or leave `priority` out to get the next free one."),
                    );
                    return Value::Null;
                }
                Err(false) => return Value::Null,
            }
        } else {
            let mut created = None;
            for _ in 0..PRIORITY_ATTEMPTS {
                let priority = match *highest_known {
                    Some(highest) if highest < model::MAX_PRIORITY => Some(highest + 1),
                    _ => {
                        let Some(in_use) = priorities_in_use(ctx, listener_arn, diags).await else {
                            return Value::Null;
                        };
                        next_priority(&in_use)
                    }
                };
                let Some(priority) = priority else {
                    diags.error(
                        "No free rule priority",
                        format!("{listener_arn} uses every priority from 1 to {}.", model::MAX_PRIORITY),
                    );
                    return Value::Null;
                };
                match create_at(ctx, planned, listener_arn, priority, diags).await {
                    Ok(rule) => {
                        created = Some(rule);
                        break;
                    }
                    Err(true) => {
                        tracing::info!(
                            listener_arn,
                            priority,
                            "priority taken meanwhile; reading the listener's rules again"
                        );
                        *highest_known = None;
                    }
                    Err(false) => return Value::Null,
                }
            }
            match created {
                Some(rule) => rule,
                None => {
                    diags.error(
                        "Could not allocate a rule priority",
                        format!("Other writers kept taking the chosen priority of {listener_arn}; set `priority` explicitly."),
                    );
                    return Value::Null;
                }
            }
        };
        let priority = rule.priority().and_then(|p| p.parse::<i64>().ok());
        if let (Some(known), Some(p)) = (*highest_known, priority) {
            *highest_known = Some(known.max(p));
        } else if highest_known.is_none() && planned.get("priority").is_null() {
            *highest_known = priority;
        }
        drop(highest_known);
        // The answer describes the new rule; with the tags just set, that is its state.
        state_from_remote(
            &remote_from(&rule, planned.get("tags_all").as_string_map()),
            planned,
            &ctx.default_tags,
        )
    }

    async fn read(&self, ctx: &Elbv2Context, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = state.get("arn").as_str() else { return Value::Null };
        read_state(ctx, arn, state, diags).await
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Rule has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        if planned.get("action") != prior.get("action") || planned.get("condition") != prior.get("condition") {
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
        if let Some(priority) = i32_of(planned.get("priority")) {
            if planned.get("priority") != prior.get("priority") {
                let pair = RulePriorityPair::builder().rule_arn(arn).priority(priority).build();
                if let Err(e) = ctx.client.set_rule_priorities().rule_priorities(pair).send().await {
                    report(diags, "SetRulePriorities", &e);
                }
            }
        }
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = read_state(ctx, arn, planned, diags).await;
        if state.is_null() {
            diags.error("Rule disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = str_of(prior.get("arn")) else { return };
        match ctx.client.delete_rule().rule_arn(&arn).send().await {
            Ok(_) => {}
            Err(e) if classify(&e) == ErrorKind::NotFound => {}
            Err(e) => diags.error("DeleteRule failed", error_message(&e)),
        }
    }

    async fn import(&self, ctx: &Elbv2Context, id: &str, diags: &mut Diagnostics) -> Value {
        if elbv2_arn_kind(id) != Some("listener-rule") {
            diags.error_at(
                &AttributePath::root(),
                "Invalid import ID",
                format!("{id:?} is not a listener rule ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app/<lb-name>/<lb-id>/<listener-id>/<id>)."),
            );
            return Value::Null;
        }
        read_state(ctx, id, &Value::Null, diags).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_arns_name_their_listener() {
        assert_eq!(
            listener_of("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
        );
    }
}
