//! The load balancer's AWS calls: describe (balancer, attributes, tags), create, the setters an
//! update uses, attribute writes, and waiting for a state.

use std::collections::BTreeMap;
use std::time::Duration;

use tgbind_aws::elbv2::types::{
    EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum, IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, SubnetMapping,
};
use tgbind_aws::{classify, error_message, ErrorKind};

use super::model::{RemoteLoadBalancer, RemoteZone};
use crate::context::Elbv2Context;
use crate::framework::Diagnostics;
use crate::resources::remote::{fetch_tags, report, to_tags};
use crate::resources::values::{str_of, strings_of};
use crate::tfvalue::Value;

pub async fn fetch_attributes(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
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
pub async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteLoadBalancer> {
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
        enforce_private_link: lb
            .enforce_security_group_inbound_rules_on_private_link_traffic()
            .map(str::to_string),
        zones,
        attributes,
        tags,
    })
}

pub async fn write_attributes(ctx: &Elbv2Context, arn: &str, changes: Vec<(String, String)>, diags: &mut Diagnostics) {
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

/// CreateLoadBalancer for a plan; the new ARN, `None` after a reported error.
pub async fn create(ctx: &Elbv2Context, name: &str, planned: &Value, diags: &mut Diagnostics) -> Option<String> {
    let internal = planned.get("internal").as_bool() == Some(true);
    let subnets = strings_of(planned.get("subnets"));
    let security_groups = strings_of(planned.get("security_groups"));
    let kind = planned.get("load_balancer_type").as_str().unwrap_or("application");
    let created = ctx
        .client
        .create_load_balancer()
        .name(name)
        .r#type(LoadBalancerTypeEnum::from(kind))
        // Gateway load balancers take no scheme.
        .set_scheme((kind != "gateway").then_some(if internal {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        }))
        .set_subnets((!subnets.is_empty()).then_some(subnets))
        .set_subnet_mappings(subnet_mappings(planned))
        .set_security_groups((!security_groups.is_empty()).then_some(security_groups))
        .set_ip_address_type(str_of(planned.get("ip_address_type")).map(|t| IpAddressType::from(t.as_str())))
        .set_tags(to_tags(&planned.get("tags_all").as_string_map()))
        .send()
        .await;
    match created {
        Ok(out) => match out.load_balancers().first().and_then(|lb| lb.load_balancer_arn()) {
            Some(arn) => Some(arn.to_string()),
            None => {
                diags.error(
                    "CreateLoadBalancer returned no load balancer",
                    "AWS answered without an ARN; nothing to record.",
                );
                None
            }
        },
        Err(e) => {
            report(diags, "CreateLoadBalancer", &e);
            None
        }
    }
}

/// SetSecurityGroups; `private_link` ("on"/"off") is a network load balancer's
/// `enforce_security_group_inbound_rules_on_private_link_traffic`, which only this call sets.
pub async fn set_security_groups(
    ctx: &Elbv2Context,
    arn: &str,
    groups: Vec<String>,
    private_link: Option<String>,
    diags: &mut Diagnostics,
) {
    let private_link = private_link.map(|v| EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum::from(v.as_str()));
    if let Err(e) = ctx
        .client
        .set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(groups))
        .set_enforce_security_group_inbound_rules_on_private_link_traffic(private_link)
        .send()
        .await
    {
        report(diags, "SetSecurityGroups", &e);
    }
}

pub async fn set_subnets(ctx: &Elbv2Context, arn: &str, subnets: Vec<String>, diags: &mut Diagnostics) {
    if let Err(e) = ctx
        .client
        .set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(subnets))
        .send()
        .await
    {
        report(diags, "SetSubnets", &e);
    }
}

pub async fn set_ip_address_type(ctx: &Elbv2Context, arn: &str, kind: &str, diags: &mut Diagnostics) {
    if let Err(e) = ctx
        .client
        .set_ip_address_type()
        .load_balancer_arn(arn)
        .ip_address_type(IpAddressType::from(kind))
        .send()
        .await
    {
        report(diags, "SetIpAddressType", &e);
    }
}

/// Polls until the load balancer is active; a provisioning balancer cannot take listeners yet.
pub async fn wait_active(ctx: &Elbv2Context, arn: &str, timeout: Duration, diags: &mut Diagnostics) {
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

/// DeleteLoadBalancer, then polls until it is gone (errors reported in `diags`).
pub async fn delete_and_wait(ctx: &Elbv2Context, arn: &str, timeout: Duration, diags: &mut Diagnostics) {
    match ctx.client.delete_load_balancer().load_balancer_arn(arn).send().await {
        Ok(_) => {}
        Err(e) if classify(&e) == ErrorKind::NotFound => return,
        Err(e) => {
            diags.error("DeleteLoadBalancer failed", error_message(&e));
            return;
        }
    }
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

/// ARNs of the balancers with `name` (every balancer when `None`), for the data source's lookup.
pub async fn arns_by_name(ctx: &Elbv2Context, name: Option<String>) -> Result<Vec<String>, (String, String)> {
    let mut request = ctx.client.describe_load_balancers();
    if let Some(name) = name {
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
            Err(e) => return Err(("DescribeLoadBalancers".to_string(), error_message(&e))),
        }
    }
    Ok(arns)
}
