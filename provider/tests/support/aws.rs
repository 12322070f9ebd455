//! Readers of what moto holds, for assertions: what Terraform made, seen through the ELBv2 API
//! directly (never through the provider under test).

use std::collections::BTreeMap;

use tgbind_aws::elbv2::types::{Listener, Rule};

use super::Moto;

pub async fn listeners(moto: &Moto, lb_arn: &str) -> Vec<Listener> {
    let out = moto
        .elbv2()
        .await
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap();
    out.listeners().to_vec()
}

/// A listener's rules, without its default rule.
pub async fn rules(moto: &Moto, listener_arn: &str) -> Vec<Rule> {
    let out = moto.elbv2().await.describe_rules().listener_arn(listener_arn).send().await.unwrap();
    out.rules().iter().filter(|r| r.is_default() != Some(true)).cloned().collect()
}

/// Attributes as a map (load balancer and target group attributes have the same shape).
fn attribute_map<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> BTreeMap<String, String> {
    pairs
        .map(|(k, v)| (k.unwrap().to_string(), v.unwrap_or_default().to_string()))
        .collect()
}

pub async fn lb_attributes(moto: &Moto, arn: &str) -> BTreeMap<String, String> {
    let elb = moto.elbv2().await;
    let out = elb.describe_load_balancer_attributes().load_balancer_arn(arn).send().await.unwrap();
    attribute_map(out.attributes().iter().map(|a| (a.key(), a.value())))
}

pub async fn tg_attributes(moto: &Moto, arn: &str) -> BTreeMap<String, String> {
    let elb = moto.elbv2().await;
    let out = elb.describe_target_group_attributes().target_group_arn(arn).send().await.unwrap();
    attribute_map(out.attributes().iter().map(|a| (a.key(), a.value())))
}

pub async fn tags(moto: &Moto, arn: &str) -> BTreeMap<String, String> {
    let out = moto.elbv2().await.describe_tags().resource_arns(arn).send().await.unwrap();
    out.tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string()))
        .collect()
}

pub async fn lb_count(moto: &Moto) -> usize {
    let out = moto.elbv2().await.describe_load_balancers().send().await.unwrap();
    out.load_balancers().len()
}

pub async fn group_count(moto: &Moto) -> usize {
    moto.elbv2()
        .await
        .describe_target_groups()
        .send()
        .await
        .map(|o| o.target_groups().len())
        .unwrap_or(0)
}

/// (load balancers, target groups, listeners, rules) in moto.
pub async fn inventory(moto: &Moto) -> (usize, usize, usize, usize) {
    let elb = moto.elbv2().await;
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    let tgs = elb.describe_target_groups().send().await.unwrap();
    let (mut listener_count, mut rule_count) = (0, 0);
    for lb in lbs.load_balancers() {
        for l in listeners(moto, lb.load_balancer_arn().unwrap()).await {
            listener_count += 1;
            rule_count += rules(moto, l.listener_arn().unwrap()).await.len();
        }
    }
    (lbs.load_balancers().len(), tgs.target_groups().len(), listener_count, rule_count)
}
