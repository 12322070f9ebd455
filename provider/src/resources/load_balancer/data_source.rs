//! Data source `elbv2_load_balancer`: one load balancer by ARN, name or tags, with the attributes
//! of the resource (read-only).

use async_trait::async_trait;

use super::{aws, model, schema};
use crate::context::Elbv2Context;
use crate::framework::{DataSource, Diagnostics, Schema};
use crate::resources::remote::lookup;
use crate::tfvalue::Value;

pub struct LoadBalancerData;

#[async_trait]
impl DataSource<Elbv2Context> for LoadBalancerData {
    fn type_name(&self) -> &'static str {
        "elbv2_load_balancer"
    }

    fn schema(&self) -> Schema {
        schema::data_source_schema()
    }

    async fn read(&self, ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Value {
        let by_name = |name| aws::arns_by_name(ctx, name);
        let Some(arn) = lookup(ctx, config, "load balancer", by_name, diags).await else {
            return Value::Null;
        };
        match aws::fetch_remote(ctx, &arn, diags).await {
            Some(remote) => model::data_source_state(&remote),
            None => {
                if !diags.has_errors() {
                    diags.error("No matching load balancer", format!("{arn} does not exist."));
                }
                Value::Null
            }
        }
    }
}
