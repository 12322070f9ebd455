//! Data source `elbv2_target_group`: one target group by ARN, name or tags, with its registered
//! targets and their health, so a configuration can wait for "the new cluster has N healthy targets"
//! before shifting listener weights.

use async_trait::async_trait;
use tgbind_aws::targets::describe_target_health;

use super::{aws, model, schema};
use crate::context::Elbv2Context;
use crate::framework::{DataSource, Diagnostics, Schema};
use crate::resources::remote::lookup;
use crate::tfvalue::Value;

pub struct TargetGroupData;

#[async_trait]
impl DataSource<Elbv2Context> for TargetGroupData {
    fn type_name(&self) -> &'static str {
        "elbv2_target_group"
    }

    fn schema(&self) -> Schema {
        schema::data_source_schema()
    }

    async fn read(&self, ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Value {
        let by_name = |name| aws::arns_by_name(ctx, name);
        let Some(arn) = lookup(ctx, config, "target group", by_name, diags).await else {
            return Value::Null;
        };
        let Some(tg) = aws::fetch_remote(ctx, &arn, diags).await else {
            if !diags.has_errors() {
                diags.error("No matching target group", format!("{arn} does not exist."));
            }
            return Value::Null;
        };
        match describe_target_health(&ctx.client, &arn).await {
            Ok(health) => model::data_source_state(&tg, &health),
            Err(e) => {
                diags.error("DescribeTargetHealth failed", e.message);
                Value::Null
            }
        }
    }
}
