//! `elbv2_load_balancer`: the order of its AWS calls. Schema in `schema`, decisions in `model`,
//! calls in `aws`; the data source of the same name in `data_source`.

mod aws;
pub mod data_source;
mod model;
mod schema;

use std::time::Duration;

use async_trait::async_trait;
use tgbind_aws::{Elbv2Arn, Elbv2Kind};

use crate::context::Elbv2Context;
use crate::framework::{Blocks, Diagnostics, ImportId, Resource, Schema};
use crate::resources::remote::{read_listed, update_tags};
use crate::resources::values::changed_attributes;
use crate::resources::values::{created_but_unread, duration_or, name_for_create, str_of, strings_of};
use crate::tfvalue::{AttributePath, Value};
use model::{desired_attributes, state_from_remote};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub struct LoadBalancer;

#[async_trait]
impl Resource<Elbv2Context> for LoadBalancer {
    fn type_name(&self) -> &'static str {
        "elbv2_load_balancer"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn list_schema(&self) -> Option<Schema> {
        Some(schema::list_schema())
    }

    async fn list(&self, ctx: &Elbv2Context, filter: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Vec<Value> {
        let arns = aws::arns_by_name(ctx, filter.get("name").as_str().map(str::to_string)).await;
        read_listed(self, ctx, arns, &filter.get("tags").as_string_map(), blocks, diags).await
    }

    fn moves_from(&self) -> &'static [&'static str] {
        &["aws_lb", "aws_alb"]
    }

    fn adopt_moved_state(&self, state: &mut Value) {
        model::adopt_aws_provider_state(state);
    }

    fn import_id(&self) -> ImportId {
        ImportId {
            description: "a load balancer ARN",
            example: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
            accepts: |id| Elbv2Arn::parse_kind(id, Elbv2Kind::LoadBalancer).is_some(),
        }
    }

    fn replace_triggers(&self, prior: &Value, proposed: &Value) -> Vec<AttributePath> {
        model::replace_triggers(prior, proposed)
    }

    fn modify_plan(&self, _ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        model::plan_type_defaults(config, planned);
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let name = name_for_create(planned);
        let Some(arn) = aws::create(ctx, &name, planned, diags).await else {
            return Value::Null;
        };
        // From here on the balancer exists: whatever fails, its state is returned so Terraform
        // records it (tainted) instead of losing track of it.
        let current = aws::fetch_attributes(ctx, &arn, diags).await.unwrap_or_default();
        aws::write_attributes(ctx, &arn, changed_attributes(&desired_attributes(planned), &current), diags).await;
        // CreateLoadBalancer cannot say it; SetSecurityGroups can.
        if let Some(setting) = str_of(planned.get("enforce_security_group_inbound_rules_on_private_link_traffic")) {
            aws::set_security_groups(ctx, &arn, strings_of(planned.get("security_groups")), Some(setting), diags).await;
        }
        let timeout = duration_or(planned.get("timeouts").get("create"), DEFAULT_TIMEOUT);
        aws::wait_active(ctx, &arn, timeout, diags).await;
        let state = self.read_id(ctx, &arn, planned, Blocks::AsPrior, diags).await;
        if state.is_null() {
            return created_but_unread(planned, &arn);
        }
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
            diags.error("Load balancer has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        let sgs = planned.get("security_groups");
        let private_link = "enforce_security_group_inbound_rules_on_private_link_traffic";
        let private_link_changed = planned.get(private_link).is_set() && planned.get(private_link) != prior.get(private_link);
        if sgs.is_wholly_known() && (sgs != prior.get("security_groups") || private_link_changed) {
            let setting = str_of(planned.get(private_link)).filter(|_| private_link_changed);
            aws::set_security_groups(ctx, arn, strings_of(sgs), setting, diags).await;
        }
        let subnets = planned.get("subnets");
        if subnets.is_wholly_known() && !subnets.elements().is_empty() && subnets != prior.get("subnets") {
            aws::set_subnets(ctx, arn, strings_of(subnets), diags).await;
        }
        if let Some(t) = planned.get("ip_address_type").as_str() {
            if prior.get("ip_address_type").as_str() != Some(t) {
                aws::set_ip_address_type(ctx, arn, t, diags).await;
            }
        }
        let changes = changed_attributes(&desired_attributes(planned), &desired_attributes(prior));
        aws::write_attributes(ctx, arn, changes, diags).await;
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = self.read_id(ctx, arn, planned, Blocks::AsPrior, diags).await;
        if state.is_null() {
            diags.error("Load balancer disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = prior.get("arn").as_str() else { return };
        // Checked before calling AWS so the message says what to do, whatever the API answers.
        if let Some(attrs) = aws::fetch_attributes(ctx, arn, &mut Diagnostics::new()).await {
            if attrs.get("deletion_protection.enabled").map(String::as_str) == Some("true") {
                diags.error_at(
                    &AttributePath::attr("enable_deletion_protection"),
                    "Deletion protection is on",
                    format!("{arn} has deletion protection enabled. Set `enable_deletion_protection = false` and apply, then destroy it."),
                );
                return;
            }
        }
        let timeout = duration_or(prior.get("timeouts").get("delete"), DEFAULT_TIMEOUT);
        aws::delete_and_wait(ctx, arn, timeout, diags).await;
    }
}
