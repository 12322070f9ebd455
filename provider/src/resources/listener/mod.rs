//! `elbv2_listener`: the order of its AWS calls. Schema in `schema`, decisions in `model`, calls
//! in `aws`.

mod aws;
mod model;
mod schema;

use async_trait::async_trait;
use tgbind_aws::{Elbv2Arn, Elbv2Kind};

use crate::context::Elbv2Context;
use crate::framework::{Blocks, Diagnostics, ImportId, Resource, Schema};
use crate::resources::remote::{read_listed, update_tags};
use crate::resources::values::str_of;
use crate::tfvalue::Value;
use model::state_from_remote;

pub struct Listener;

#[async_trait]
impl Resource<Elbv2Context> for Listener {
    fn type_name(&self) -> &'static str {
        "elbv2_listener"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn list_schema(&self) -> Option<Schema> {
        Some(schema::list_schema())
    }

    async fn list(&self, ctx: &Elbv2Context, filter: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Vec<Value> {
        let arns = aws::arns_of_load_balancer(ctx, filter.get("load_balancer_arn").as_str().unwrap_or_default()).await;
        read_listed(self, ctx, arns, &filter.get("tags").as_string_map(), blocks, diags).await
    }

    fn moves_from(&self) -> &'static [&'static str] {
        &["aws_lb_listener", "aws_alb_listener"]
    }

    fn import_id(&self) -> ImportId {
        ImportId {
            description: "a listener ARN",
            example: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
            accepts: |id| Elbv2Arn::parse_kind(id, Elbv2Kind::Listener).is_some(),
        }
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let protocol = match str_of(planned.get("protocol")) {
            Some(p) => Some(p),
            None => aws::default_protocol(ctx, planned.get("load_balancer_arn").as_str().unwrap_or_default()).await,
        };
        match aws::create(ctx, planned, protocol, diags).await {
            // The answer describes the new listener; with the tags just set, that is its state.
            Some(l) => {
                let mut remote = aws::remote_from(&l, planned.get("tags_all").as_string_map());
                let arn = remote.arn.clone();
                // A new listener has AWS's attributes: read them, then write what is configured.
                let current = aws::fetch_attributes(ctx, &arn, diags).await.unwrap_or_default();
                remote.attributes = aws::write_attributes(ctx, &arn, &model::desired_attributes(planned), &current, diags).await;
                state_from_remote(&remote, planned, &ctx.default_tags)
            }
            None => Value::Null,
        }
    }

    async fn read_id(&self, ctx: &Elbv2Context, id: &str, prior: &Value, _blocks: Blocks, diags: &mut Diagnostics) -> Value {
        match aws::fetch_remote(ctx, id, diags).await {
            Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags),
            None => Value::Null,
        }
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Listener has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        if model::settings_changed(prior, planned) {
            aws::modify(ctx, arn, planned, diags).await;
        }
        // The attributes the plan changes (the prior state holds what AWS last reported).
        let desired = model::desired_attributes(planned);
        let before = model::desired_attributes(prior);
        aws::write_attributes(ctx, arn, &desired, &before, diags).await;
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = self.read_id(ctx, arn, planned, Blocks::AsPrior, diags).await;
        if state.is_null() {
            diags.error("Listener disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = prior.get("arn").as_str() else { return };
        aws::delete(ctx, arn, diags).await;
    }
}
