//! `elbv2_load_balancer`: the resource's AWS calls. Validation, per-type defaults and state
//! shaping are pure functions in `model`.

pub(crate) mod model;
mod schema;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tgbind_aws::elbv2::types::{IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, SubnetMapping};
use tgbind_aws::{classify, error_message, ErrorKind};

use crate::framework::{Diagnostics, Resource, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::arn::elbv2_arn_kind;
use crate::resources::common::{
    created_but_unread, duration_or, fetch_tags, name_for_create, report, str_of, strings_of, to_tags, update_tags,
};
use crate::resources::tags::plan_tags_all;
use crate::tfvalue::{AttributePath, Value};
pub use model::RemoteLoadBalancer;
use model::{changed_attributes, desired_attributes, state_from_remote, RemoteZone};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub struct LoadBalancer {
    schema: Schema,
}

impl Default for LoadBalancer {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadBalancer {
    pub fn new() -> Self {
        Self { schema: schema::schema() }
    }
    /// The resource's schema block, which the data source reuses.
    pub fn block() -> crate::framework::Block {
        schema::schema().block
    }
}

pub(crate) async fn fetch_attributes(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
    match ctx.client.describe_load_balancer_attributes().load_balancer_arn(arn).send().await {
        Ok(out) => Some(
            out.attributes()
                .iter()
                .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
                .collect(),
        ),
        Err(e) => {
            report(diags, "DescribeLoadBalancerAttributes", &e);
            None
        }
    }
}

/// The load balancer as AWS reports it; `None` when it does not exist (or on a reported error).
pub(crate) async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteLoadBalancer> {
    let out = match ctx.client.describe_load_balancers().load_balancer_arns(arn).send().await {
        Ok(out) => out,
        Err(e) if classify(&e) == ErrorKind::NotFound => return None,
        Err(e) => {
            report(diags, "DescribeLoadBalancers", &e);
            return None;
        }
    };
    let lb = out.load_balancers().first()?;
    let attributes = fetch_attributes(ctx, arn, diags).await?;
    let tags = fetch_tags(ctx, arn, diags).await?;
    let zones = lb
        .availability_zones()
        .iter()
        .map(|z| {
            let addr = z.load_balancer_addresses().first();
            RemoteZone {
                subnet_id: z.subnet_id().unwrap_or_default().to_string(),
                allocation_id: addr.and_then(|a| a.allocation_id()).map(str::to_string),
                private_ipv4_address: addr.and_then(|a| a.private_ipv4_address()).map(str::to_string),
                ipv6_address: addr.and_then(|a| a.ipv6_address()).map(str::to_string),
            }
        })
        .collect();
    Some(RemoteLoadBalancer {
        arn: arn.to_string(),
        name: lb.load_balancer_name().unwrap_or_default().to_string(),
        kind: lb.r#type().map_or("application", |t| t.as_str()).to_string(),
        scheme: lb.scheme().map_or("internet-facing", |s| s.as_str()).to_string(),
        state: lb.state().and_then(|s| s.code()).map_or("", |c| c.as_str()).to_string(),
        dns_name: lb.dns_name().map(str::to_string),
        zone_id: lb.canonical_hosted_zone_id().map(str::to_string),
        vpc_id: lb.vpc_id().map(str::to_string),
        ip_address_type: lb.ip_address_type().map(|t| t.as_str().to_string()),
        security_groups: lb.security_groups().to_vec(),
        zones,
        attributes,
        tags,
    })
}

async fn write_attributes(ctx: &Elbv2Context, arn: &str, changes: Vec<(String, String)>, diags: &mut Diagnostics) {
    if changes.is_empty() {
        return;
    }
    let attrs = changes
        .into_iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect();
    if let Err(e) = ctx
        .client
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attrs))
        .send()
        .await
    {
        report(diags, "ModifyLoadBalancerAttributes", &e);
    }
}

fn subnet_mappings(planned: &Value) -> Option<Vec<SubnetMapping>> {
    let items = planned.get("subnet_mapping").elements();
    if items.is_empty() {
        return None;
    }
    Some(
        items
            .iter()
            .map(|m| {
                SubnetMapping::builder()
                    .set_subnet_id(str_of(m.get("subnet_id")))
                    .set_allocation_id(str_of(m.get("allocation_id")))
                    .set_private_ipv4_address(str_of(m.get("private_ipv4_address")))
                    .set_ipv6_address(str_of(m.get("ipv6_address")))
                    .build()
            })
            .collect(),
    )
}

/// Polls until the load balancer is active; a provisioning balancer cannot take listeners yet.
async fn wait_active(ctx: &Elbv2Context, arn: &str, timeout: Duration, diags: &mut Diagnostics) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut wait = Duration::from_millis(250);
    loop {
        match ctx.client.describe_load_balancers().load_balancer_arns(arn).send().await {
            Ok(out) => {
                let state = out
                    .load_balancers()
                    .first()
                    .and_then(|lb| lb.state().and_then(|s| s.code()).cloned());
                match state.as_ref().map(|s| s.as_str()) {
                    Some("active") => return,
                    Some("failed") => {
                        diags.error("Load balancer failed to provision", format!("{arn} is in state `failed`."));
                        return;
                    }
                    _ => {}
                }
            }
            Err(e) if classify(&e) == ErrorKind::NotFound => {}
            Err(e) => {
                report(diags, "DescribeLoadBalancers", &e);
                return;
            }
        }
        if tokio::time::Instant::now() + wait > deadline {
            diags.error(
                "Timed out waiting for the load balancer",
                format!(
                    "{arn} did not become active within {}s; raise `timeouts.create` or check the AWS console.",
                    timeout.as_secs()
                ),
            );
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

async fn read_state(ctx: &Elbv2Context, arn: &str, prior: &Value, importing: bool, diags: &mut Diagnostics) -> Value {
    match fetch_remote(ctx, arn, diags).await {
        Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags, importing),
        None => Value::Null,
    }
}

#[async_trait]
impl Resource<Elbv2Context> for LoadBalancer {
    fn type_name(&self) -> &'static str {
        "elbv2_load_balancer"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        model::validate(config, diags);
    }

    fn replace_triggers(&self, prior: &Value, proposed: &Value) -> Vec<AttributePath> {
        model::replace_triggers(prior, proposed)
    }

    fn modify_plan(&self, ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        planned.set("tags_all", plan_tags_all(&ctx.default_tags, config.get("tags")));
        model::plan_type_defaults(config, planned);
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let name = name_for_create(planned);
        let internal = planned.get("internal").as_bool() == Some(true);
        let subnets = strings_of(planned.get("subnets"));
        let security_groups = strings_of(planned.get("security_groups"));
        let created = ctx
            .client
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::from(
                planned.get("load_balancer_type").as_str().unwrap_or("application"),
            ))
            .scheme(if internal {
                LoadBalancerSchemeEnum::Internal
            } else {
                LoadBalancerSchemeEnum::InternetFacing
            })
            .set_subnets((!subnets.is_empty()).then_some(subnets))
            .set_subnet_mappings(subnet_mappings(planned))
            .set_security_groups((!security_groups.is_empty()).then_some(security_groups))
            .set_ip_address_type(str_of(planned.get("ip_address_type")).map(|t| IpAddressType::from(t.as_str())))
            .set_tags(to_tags(&planned.get("tags_all").as_string_map()))
            .send()
            .await;
        let arn = match created {
            Ok(out) => match out.load_balancers().first().and_then(|lb| lb.load_balancer_arn()) {
                Some(arn) => arn.to_string(),
                None => {
                    diags.error(
                        "CreateLoadBalancer returned no load balancer",
                        "AWS answered without an ARN; nothing to record.",
                    );
                    return Value::Null;
                }
            },
            Err(e) => {
                report(diags, "CreateLoadBalancer", &e);
                return Value::Null;
            }
        };
        // From here on the balancer exists: whatever fails, its state is returned so Terraform
        // records it (tainted) instead of losing track of it.
        let current = fetch_attributes(ctx, &arn, diags).await.unwrap_or_default();
        write_attributes(ctx, &arn, changed_attributes(&desired_attributes(planned), &current), diags).await;
        wait_active(
            ctx,
            &arn,
            duration_or(planned.get("timeouts").get("create"), DEFAULT_TIMEOUT),
            diags,
        )
        .await;
        let state = read_state(ctx, &arn, planned, false, diags).await;
        if state.is_null() {
            return created_but_unread(planned, &arn);
        }
        state
    }

    async fn read(&self, ctx: &Elbv2Context, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = state.get("arn").as_str() else { return Value::Null };
        read_state(ctx, arn, state, false, diags).await
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Load balancer has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        let sgs = planned.get("security_groups");
        if sgs.is_wholly_known() && sgs != prior.get("security_groups") {
            if let Err(e) = ctx
                .client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(strings_of(sgs)))
                .send()
                .await
            {
                report(diags, "SetSecurityGroups", &e);
            }
        }
        let subnets = planned.get("subnets");
        if subnets.is_wholly_known() && !subnets.elements().is_empty() && subnets != prior.get("subnets") {
            if let Err(e) = ctx
                .client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(strings_of(subnets)))
                .send()
                .await
            {
                report(diags, "SetSubnets", &e);
            }
        }
        if let Some(t) = planned.get("ip_address_type").as_str() {
            if prior.get("ip_address_type").as_str() != Some(t) {
                if let Err(e) = ctx
                    .client
                    .set_ip_address_type()
                    .load_balancer_arn(arn)
                    .ip_address_type(IpAddressType::from(t))
                    .send()
                    .await
                {
                    report(diags, "SetIpAddressType", &e);
                }
            }
        }
        write_attributes(
            ctx,
            arn,
            changed_attributes(&desired_attributes(planned), &desired_attributes(prior)),
            diags,
        )
        .await;
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = read_state(ctx, arn, planned, false, diags).await;
        if state.is_null() {
            diags.error("Load balancer disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = prior.get("arn").as_str() else { return };
        // Checked before calling AWS so the message says what to do, whatever the API answers.
        if let Some(attrs) = fetch_attributes(ctx, arn, &mut Diagnostics::new()).await {
            if attrs.get("deletion_protection.enabled").map(String::as_str) == Some("true") {
                diags.error_at(
                    &AttributePath::attr("enable_deletion_protection"),
                    "Deletion protection is on",
                    format!("{arn} has deletion protection enabled. Set `enable_deletion_protection = false` and apply, then destroy it."),
                );
                return;
            }
        }
        match ctx.client.delete_load_balancer().load_balancer_arn(arn).send().await {
            Ok(_) => {}
            Err(e) if classify(&e) == ErrorKind::NotFound => return,
            Err(e) => {
                diags.error("DeleteLoadBalancer failed", error_message(&e));
                return;
            }
        }
        let timeout = duration_or(prior.get("timeouts").get("delete"), DEFAULT_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut wait = Duration::from_millis(250);
        loop {
            match ctx.client.describe_load_balancers().load_balancer_arns(arn).send().await {
                Err(e) if classify(&e) == ErrorKind::NotFound => return,
                Ok(out) if out.load_balancers().is_empty() => return,
                Ok(_) => {}
                Err(e) => {
                    report(diags, "DescribeLoadBalancers", &e);
                    return;
                }
            }
            if tokio::time::Instant::now() + wait > deadline {
                diags.error(
                    "Timed out waiting for the load balancer to go",
                    format!("{arn} still exists after {}s; raise `timeouts.delete`.", timeout.as_secs()),
                );
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    async fn import(&self, ctx: &Elbv2Context, id: &str, diags: &mut Diagnostics) -> Value {
        if elbv2_arn_kind(id) != Some("loadbalancer") {
            diags.error_at(
                &AttributePath::root(),
                "Invalid import ID",
                format!(
                    "{id:?} is not a load balancer ARN (arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app|net/<name>/<id>)."
                ),
            );
            return Value::Null;
        }
        read_state(ctx, id, &Value::Null, true, diags).await
    }
}
