//! Data source `elbv2_load_balancer`: one load balancer by ARN, name or tags, with the attributes
//! of the resource (read-only).

use async_trait::async_trait;
use tgbind_aws::{classify, ErrorKind};

use crate::framework::{DataSource, Diagnostics, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::common::{report, require_lookup, single_match};
use crate::resources::load_balancer::{fetch_remote, model::state_from_remote, LoadBalancer};
use crate::tfvalue::Value;

pub struct LoadBalancerData {
    schema: Schema,
}

impl Default for LoadBalancerData {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadBalancerData {
    pub fn new() -> Self {
        let block = LoadBalancer::block()
            .as_data_source(&["arn", "name", "tags"], &["name_prefix", "tags_all", "timeouts"])
            .description("Looks up one load balancer by `arn`, `name` or `tags` (an error unless exactly one matches).");
        Self {
            schema: Schema::new(0, block),
        }
    }
}

async fn candidates(ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Option<Vec<String>> {
    if let Some(arn) = config.get("arn").as_str() {
        return Some(vec![arn.to_string()]);
    }
    let mut request = ctx.client.describe_load_balancers();
    if let Some(name) = config.get("name").as_str() {
        request = request.names(name);
    }
    let mut pages = request.into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => arns.extend(
                out.load_balancers()
                    .iter()
                    .filter_map(|lb| lb.load_balancer_arn().map(str::to_string)),
            ),
            Err(e) if classify(&e) == ErrorKind::NotFound => break,
            Err(e) => {
                report(diags, "DescribeLoadBalancers", &e);
                return None;
            }
        }
    }
    Some(arns)
}

#[async_trait]
impl DataSource<Elbv2Context> for LoadBalancerData {
    fn type_name(&self) -> &'static str {
        "elbv2_load_balancer"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        require_lookup(config, "load balancer", diags);
    }

    async fn read(&self, ctx: &Elbv2Context, config: &Value, diags: &mut Diagnostics) -> Value {
        let found = candidates(ctx, config, diags).await;
        let Some(arn) = single_match(ctx, found, config, "load balancer", diags).await else {
            return Value::Null;
        };
        let Some(remote) = fetch_remote(ctx, &arn, diags).await else {
            if !diags.has_errors() {
                diags.error("No matching load balancer", format!("{arn} does not exist."));
            }
            return Value::Null;
        };
        // Every tag of the balancer, and access logs whenever they are on.
        let mut value = state_from_remote(&remote, &Value::Null, &Default::default(), true);
        if let Value::Object(m) = &mut value {
            m.remove("name_prefix");
            m.remove("tags_all");
            m.remove("timeouts");
        }
        value
    }
}
