//! `elbv2_target_group`: the order of its AWS calls. Schema in `schema`, decisions in `model`,
//! calls in `aws`; the data source of the same name in `data_source`.

mod aws;
pub mod data_source;
mod model;
mod schema;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tgbind_aws::{classify, error_message, Elbv2Arn, Elbv2Kind, ErrorKind};

use crate::context::Elbv2Context;
use crate::framework::{Blocks, Diagnostics, ImportId, Resource, Schema};
use crate::resources::remote::{read_listed, update_tags};
use crate::resources::values::{created_but_unread, duration_or, name_for_create};
use crate::tfvalue::Value;
pub use model::{desired_attributes, state_from_remote, RemoteTargetGroup};

/// How long delete keeps retrying by default while a listener or rule still uses the group (its
/// own deletion may be in flight in the same apply).
const DELETE_IN_USE_RETRY: Duration = Duration::from_secs(120);

pub struct TargetGroup;

#[async_trait]
impl Resource<Elbv2Context> for TargetGroup {
    fn type_name(&self) -> &'static str {
        "elbv2_target_group"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn list_schema(&self) -> Option<Schema> {
        Some(schema::list_schema())
    }

    async fn list(&self, ctx: &Elbv2Context, filter: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Vec<Value> {
        let name = filter.get("name").as_str().map(str::to_string);
        let arns = aws::list_arns(ctx, name, filter.get("load_balancer_arn").as_str().map(str::to_string)).await;
        read_listed(self, ctx, arns, &filter.get("tags").as_string_map(), blocks, diags).await
    }

    fn moves_from(&self) -> &'static [&'static str] {
        &["aws_lb_target_group", "aws_alb_target_group"]
    }

    fn import_id(&self) -> ImportId {
        ImportId {
            description: "a target group ARN",
            example: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef",
            accepts: |id| Elbv2Arn::parse_kind(id, Elbv2Kind::TargetGroup).is_some(),
        }
    }

    fn modify_plan(&self, _ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        model::plan_protocol_defaults(config, planned);
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let name = name_for_create(planned);
        let Some(created) = aws::create(ctx, &name, planned, diags).await else {
            return Value::Null;
        };
        let arn = created.target_group_arn().unwrap_or_default().to_string();
        // The group exists from here on: whatever fails next, its state is returned so Terraform
        // records it (tainted) instead of losing track of it. All attributes are written at once
        // (a new group has AWS's defaults); the answer lists every attribute, and together with
        // the create answer and the tags just set it describes the group without reading it back.
        let written = aws::write_attributes(ctx, &arn, &desired_attributes(planned), &BTreeMap::new(), diags).await;
        let mut state = match written {
            Some(attributes) if !diags.has_errors() => {
                let tags_all = planned.get("tags_all").as_string_map();
                state_from_remote(
                    &aws::remote_from(&created, attributes, tags_all),
                    planned,
                    &ctx.default_tags,
                    Blocks::AsPrior,
                )
            }
            _ => self.read_id(ctx, &arn, planned, Blocks::AsPrior, diags).await,
        };
        if state.is_null() {
            return created_but_unread(planned, &arn);
        }
        state.set("name_prefix", planned.get("name_prefix").clone());
        state
    }

    async fn read_id(&self, ctx: &Elbv2Context, id: &str, prior: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Value {
        match aws::fetch_remote(ctx, id, diags).await {
            Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags, blocks),
            None => Value::Null,
        }
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Target group has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        let hc = planned.first_block("health_check");
        if hc.is_set() && hc != prior.first_block("health_check") {
            aws::modify_health_check(ctx, arn, planned, diags).await;
        }
        aws::write_attributes(ctx, arn, &desired_attributes(planned), &desired_attributes(prior), diags).await;
        update_tags(ctx, arn, prior, planned, diags).await;
        let mut state = self.read_id(ctx, arn, planned, Blocks::AsPrior, diags).await;
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
            match aws::delete(ctx, arn).await {
                Ok(()) => return,
                Err(e) if classify(&e) == ErrorKind::NotFound => return,
                Err(e) if classify(&e) == ErrorKind::InUse && started.elapsed() + wait < retry_for => {
                    tracing::info!(arn, "target group still in use; retrying delete");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) if classify(&e) == ErrorKind::InUse => {
                    let users = aws::users_of(ctx, arn).await;
                    diags.error("Target group still in use", model::in_use_detail(&error_message(&e), &users));
                    return;
                }
                Err(e) => {
                    diags.error("DeleteTargetGroup failed", error_message(&e));
                    return;
                }
            }
        }
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
