//! The listener's AWS calls.

use std::collections::{BTreeMap, HashMap};

use tgbind_aws::elbv2::types::{
    Action, AdvertiseTrustStoreCaNamesEnum, Certificate, Listener, ListenerAttribute, MutualAuthenticationAttributes, ProtocolEnum,
};
use tgbind_aws::{classify, elbv2, error_message, Elbv2Arn, ErrorKind};

use super::model::{self, RemoteListener};
use crate::context::Elbv2Context;
use crate::framework::Diagnostics;
use crate::resources::actions;
use crate::resources::coalesce::ReadError;
use crate::resources::read_ahead::list_pages;
use crate::resources::remote::{fetch_tags, from_listing, read_batched, read_error, report, to_tags};
use crate::resources::values::{changed_attributes, i32_of, str_of};
use crate::tfvalue::Value;

/// The listener as AWS reports it; `None` when it does not exist (or after a reported error).
pub async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteListener> {
    let reads = &ctx.reads;
    let load_balancer = Elbv2Arn::parse(arn).and_then(|a| a.parent()).unwrap_or_default();
    let l = match from_listing(ctx, &reads.listed_listeners, &load_balancer, arn, |client| {
        list_listeners(client, load_balancer.clone())
    })
    .await
    {
        Some(l) => l,
        None => read_batched(&reads.listeners, &ctx.client, arn, "DescribeListeners", diags, describe_listeners).await??,
    };
    let tags = fetch_tags(ctx, arn, diags).await?;
    let mut remote = remote_from(&l, tags);
    remote.attributes = fetch_attributes(ctx, arn, diags).await?;
    Some(remote)
}

/// DescribeListeners for up to 20 listeners, by ARN.
async fn describe_listeners(client: elbv2::Client, arns: Vec<String>) -> Result<HashMap<String, Listener>, ReadError> {
    let out = client
        .describe_listeners()
        .set_listener_arns(Some(arns))
        .send()
        .await
        .map_err(|e| read_error(&e))?;
    Ok(out
        .listeners()
        .iter()
        .filter_map(|l| Some((l.listener_arn()?.to_string(), l.clone())))
        .collect())
}

/// A load balancer's listeners, up to `MAX_PAGES` pages; `None` when the listing failed.
async fn list_listeners(client: elbv2::Client, load_balancer: String) -> Option<Vec<(String, Listener)>> {
    list_pages(|marker| {
        let (client, load_balancer) = (client.clone(), load_balancer.clone());
        async move {
            let request = client.describe_listeners().load_balancer_arn(load_balancer).page_size(400);
            let page = request.set_marker(marker).send().await.ok()?;
            let found = page
                .listeners()
                .iter()
                .filter_map(|l| Some((l.listener_arn()?.to_string(), l.clone())));
            Some((found.collect(), page.next_marker().map(str::to_string)))
        }
    })
    .await
}

/// DescribeListenerAttributes (per listener: the API has no batch form).
pub async fn fetch_attributes(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
    match ctx.client.describe_listener_attributes().listener_arn(arn).send().await {
        Ok(out) => Some(attribute_map(out.attributes())),
        Err(e) => {
            report(diags, "DescribeListenerAttributes", &e);
            None
        }
    }
}

/// ModifyListenerAttributes with the entries of `desired` that differ from `current`; the
/// listener's attributes afterwards (`current` when nothing had to change).
pub async fn write_attributes(
    ctx: &Elbv2Context,
    arn: &str,
    desired: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let changed: Vec<ListenerAttribute> = changed_attributes(desired, current)
        .into_iter()
        .map(|(k, v)| ListenerAttribute::builder().key(k).value(v).build())
        .collect();
    if changed.is_empty() {
        return current.clone();
    }
    match ctx
        .client
        .modify_listener_attributes()
        .listener_arn(arn)
        .set_attributes(Some(changed))
        .send()
        .await
    {
        Ok(out) => attribute_map(out.attributes()),
        Err(e) => {
            report(diags, "ModifyListenerAttributes", &e);
            current.clone()
        }
    }
}

fn attribute_map(attributes: &[ListenerAttribute]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect()
}

/// A listener as AWS describes it (DescribeListeners or CreateListener), with its tags.
pub fn remote_from(l: &tgbind_aws::elbv2::types::Listener, tags: BTreeMap<String, String>) -> RemoteListener {
    RemoteListener {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_string(),
        port: l.port().map(i64::from),
        protocol: l.protocol().map(|p| p.as_str().to_string()).filter(|p| !p.is_empty()),
        // The first certificate of DescribeListeners is the default one.
        certificate_arn: l.certificates().first().and_then(|c| c.certificate_arn()).map(str::to_string),
        ssl_policy: l.ssl_policy().map(str::to_string),
        alpn_policy: l.alpn_policy().first().cloned(),
        default_actions: l.default_actions().to_vec(),
        attributes: BTreeMap::new(),
        mutual_authentication: l.mutual_authentication().and_then(|m| {
            Some(model::RemoteMutualAuthentication {
                mode: m.mode()?.to_string(),
                trust_store_arn: m.trust_store_arn().map(str::to_string),
                ignore_client_certificate_expiry: m.ignore_client_certificate_expiry(),
                advertise_trust_store_ca_names: m.advertise_trust_store_ca_names().map(|a| a.as_str().to_string()),
            })
        }),
        tags,
    }
}

/// The protocol of a listener that names none: HTTP on an application load balancer, TCP on a
/// network one (AWS wants it spelled out); none on a gateway load balancer, whose listeners have
/// neither port nor protocol.
pub async fn default_protocol(ctx: &Elbv2Context, lb_arn: &str) -> Option<String> {
    let out = ctx.client.describe_load_balancers().load_balancer_arns(lb_arn).send().await.ok()?;
    match out.load_balancers().first()?.r#type()?.as_str() {
        "network" => Some("TCP".to_string()),
        "gateway" => None,
        _ => Some("HTTP".to_string()),
    }
}

fn certificates(planned: &Value) -> Option<Vec<Certificate>> {
    str_of(planned.get("certificate_arn")).map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// The planned `mutual_authentication` block; none (AWS's setting unchanged) when it is absent.
fn mutual_authentication(planned: &Value) -> Option<MutualAuthenticationAttributes> {
    let m = planned.first_block("mutual_authentication");
    m.is_set().then(|| {
        MutualAuthenticationAttributes::builder()
            .set_mode(str_of(m.get("mode")))
            .set_trust_store_arn(str_of(m.get("trust_store_arn")))
            .set_ignore_client_certificate_expiry(m.get("ignore_client_certificate_expiry").as_bool())
            .set_advertise_trust_store_ca_names(
                str_of(m.get("advertise_trust_store_ca_names")).map(|a| AdvertiseTrustStoreCaNamesEnum::from(a.as_str())),
            )
            .build()
    })
}

fn sdk_actions(planned: &Value) -> Option<Vec<Action>> {
    Some(actions::list_to_sdk(planned.get("default_action")))
}

/// CreateListener; the listener as AWS answers, `None` after a reported error.
pub async fn create(
    ctx: &Elbv2Context,
    planned: &Value,
    protocol: Option<String>,
    diags: &mut Diagnostics,
) -> Option<tgbind_aws::elbv2::types::Listener> {
    let created = ctx
        .client
        .create_listener()
        .set_load_balancer_arn(str_of(planned.get("load_balancer_arn")))
        .set_port(i32_of(planned.get("port")))
        .set_protocol(protocol.map(|p| ProtocolEnum::from(p.as_str())))
        .set_certificates(certificates(planned))
        .set_ssl_policy(str_of(planned.get("ssl_policy")))
        .set_alpn_policy(str_of(planned.get("alpn_policy")).map(|p| vec![p]))
        .set_default_actions(sdk_actions(planned))
        .set_mutual_authentication(mutual_authentication(planned))
        .set_tags(to_tags(&planned.get("tags_all").as_string_map()))
        .send()
        .await;
    match created {
        Ok(out) => {
            let listener = out.listeners().first().filter(|l| l.listener_arn().is_some()).cloned();
            if listener.is_none() {
                diags.error(
                    "CreateListener returned no listener",
                    "AWS answered without an ARN; nothing to record.",
                );
            }
            listener
        }
        Err(e) => {
            report(diags, "CreateListener", &e);
            None
        }
    }
}

/// ModifyListener with every planned setting.
pub async fn modify(ctx: &Elbv2Context, arn: &str, planned: &Value, diags: &mut Diagnostics) {
    let out = ctx
        .client
        .modify_listener()
        .listener_arn(arn)
        .set_port(i32_of(planned.get("port")))
        .set_protocol(str_of(planned.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
        .set_certificates(certificates(planned))
        .set_ssl_policy(str_of(planned.get("ssl_policy")))
        .set_alpn_policy(str_of(planned.get("alpn_policy")).map(|p| vec![p]))
        .set_default_actions(sdk_actions(planned))
        .set_mutual_authentication(mutual_authentication(planned))
        .send()
        .await;
    if let Err(e) = out {
        report(diags, "ModifyListener", &e);
    }
}

pub async fn delete(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) {
    match ctx.client.delete_listener().listener_arn(arn).send().await {
        Ok(_) => {}
        Err(e) if classify(&e) == ErrorKind::NotFound => {}
        Err(e) => diags.error("DeleteListener failed", error_message(&e)),
    }
}

/// ARNs of a load balancer's listeners (`terraform query`).
pub async fn arns_of_load_balancer(ctx: &Elbv2Context, load_balancer_arn: &str) -> Result<Vec<String>, (String, String)> {
    let mut pages = ctx
        .client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => arns.extend(out.listeners().iter().filter_map(|l| l.listener_arn().map(str::to_string))),
            Err(e) => return Err(("DescribeListeners".to_string(), error_message(&e))),
        }
    }
    Ok(arns)
}
