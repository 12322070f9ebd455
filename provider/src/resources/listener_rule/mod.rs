//! `elbv2_listener_rule`: the order of its AWS calls, including race-free priority allocation.
//! Schema in `schema`, decisions in `model`, calls in `aws`.

mod aws;
mod model;
mod schema;

use async_trait::async_trait;
use tgbind_aws::elbv2::types::Rule;
use tgbind_aws::{Elbv2Arn, Elbv2Kind};

use crate::context::Elbv2Context;
use crate::framework::{Blocks, Diagnostics, ImportId, Resource, Schema};
use crate::resources::remote::{read_listed, update_tags};
use crate::resources::values::{i32_of, str_of};
use crate::tfvalue::{AttributePath, Value};
use aws::CreateFailed;
use model::{next_priority, state_from_remote};

/// How often a create retries when another writer (another Terraform run, the console) took the
/// priority it chose between reading the rules and creating its own.
const PRIORITY_ATTEMPTS: usize = 5;

pub struct ListenerRule;

/// Creates the rule at the next free priority, under the listener's lock: one above the highest
/// this process knows (read from AWS once per listener), again after a `PriorityInUse` from
/// another writer.
async fn create_with_free_priority(
    ctx: &Elbv2Context,
    planned: &Value,
    listener_arn: &str,
    highest_known: &mut Option<i64>,
    diags: &mut Diagnostics,
) -> Option<Rule> {
    for _ in 0..PRIORITY_ATTEMPTS {
        let priority = match *highest_known {
            Some(highest) if highest < model::MAX_PRIORITY => Some(highest + 1),
            _ => next_priority(&aws::priorities_in_use(ctx, listener_arn, diags).await?),
        };
        let Some(priority) = priority else {
            diags.error(
                "No free rule priority",
                format!("{listener_arn} uses every priority from 1 to {}.", model::MAX_PRIORITY),
            );
            return None;
        };
        match aws::create_at(ctx, planned, listener_arn, priority, diags).await {
            Ok(rule) => return Some(rule),
            Err(CreateFailed::PriorityInUse) => {
                tracing::info!(
                    listener_arn,
                    priority,
                    "priority taken meanwhile; reading the listener's rules again"
                );
                *highest_known = None;
            }
            Err(CreateFailed::Reported) => return None,
        }
    }
    diags.error(
        "Could not allocate a rule priority",
        format!("Other writers kept taking the chosen priority of {listener_arn}; set `priority` explicitly."),
    );
    None
}

#[async_trait]
impl Resource<Elbv2Context> for ListenerRule {
    fn type_name(&self) -> &'static str {
        "elbv2_listener_rule"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn list_schema(&self) -> Option<Schema> {
        Some(schema::list_schema())
    }

    async fn list(&self, ctx: &Elbv2Context, filter: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Vec<Value> {
        let arns = aws::arns_of_listener(ctx, filter.get("listener_arn").as_str().unwrap_or_default()).await;
        read_listed(self, ctx, arns, &filter.get("tags").as_string_map(), blocks, diags).await
    }

    fn moves_from(&self) -> &'static [&'static str] {
        &["aws_lb_listener_rule", "aws_alb_listener_rule"]
    }

    fn import_id(&self) -> ImportId {
        ImportId {
            description: "a listener rule ARN",
            example: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
            accepts: |id| Elbv2Arn::parse_kind(id, Elbv2Kind::ListenerRule).is_some(),
        }
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
            match aws::create_at(ctx, planned, listener_arn, priority, diags).await {
                Ok(rule) => rule,
                Err(CreateFailed::PriorityInUse) => {
                    diags.error_at(
                        &AttributePath::attr("priority"),
                        "Priority in use",
                        format!("Another rule of {listener_arn} has priority {priority}. Choose another, or leave `priority` out to get the next free one."),
                    );
                    return Value::Null;
                }
                Err(CreateFailed::Reported) => return Value::Null,
            }
        } else {
            match create_with_free_priority(ctx, planned, listener_arn, &mut highest_known, diags).await {
                Some(rule) => rule,
                None => return Value::Null,
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
        let remote = aws::remote_from(&rule, planned.get("tags_all").as_string_map());
        state_from_remote(&remote, planned, &ctx.default_tags)
    }

    async fn read_id(&self, ctx: &Elbv2Context, id: &str, prior: &Value, _blocks: Blocks, diags: &mut Diagnostics) -> Value {
        match aws::fetch_remote(ctx, id, diags).await {
            Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags),
            None => Value::Null,
        }
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Rule has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        if planned.get("action") != prior.get("action") || planned.get("condition") != prior.get("condition") {
            aws::modify(ctx, arn, planned, diags).await;
        }
        if let Some(priority) = i32_of(planned.get("priority")) {
            if planned.get("priority") != prior.get("priority") {
                aws::set_priority(ctx, arn, priority, diags).await;
            }
        }
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = self.read_id(ctx, arn, planned, Blocks::AsPrior, diags).await;
        if state.is_null() {
            diags.error("Rule disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = str_of(prior.get("arn")) else { return };
        aws::delete(ctx, &arn, diags).await;
    }
}
