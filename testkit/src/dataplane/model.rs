//! The configuration the data plane serves, read from the ELBv2 API behind it (moto): listeners
//! with their rules, target groups with their health-check settings and attributes, and who is
//! registered in each group. Turned into the plain types `routing` decides on.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use tgbind_aws::elbv2;
use tgbind_aws::elbv2::types as t;

use super::health::{parse_matcher, Thresholds};
use super::routing::{Action, Condition, Redirect, Rule, WeightedGroup};

#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub load_balancer_name: String,
    /// `HTTP`, `HTTPS`, `TCP`, `TLS`, `UDP`, `TCP_UDP`.
    pub protocol: String,
    pub port: u16,
    /// The listener's rules, its default rule included.
    pub rules: Vec<Rule>,
}

impl Listener {
    /// HTTP and HTTPS listeners route requests (HTTPS served without TLS: the emulator does
    /// not terminate it); the others forward TCP streams.
    pub fn routes_http(&self) -> bool {
        matches!(self.protocol.as_str(), "HTTP" | "HTTPS")
    }

    /// The groups any of this listener's rules forward to.
    pub fn forwarded_groups(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| match &r.action {
            Action::Forward { groups, .. } => groups.iter().map(|g| g.arn.as_str()).collect::<Vec<_>>(),
            _ => vec![],
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub enabled: bool,
    /// `HTTP`, `HTTPS` or `TCP`.
    pub protocol: String,
    /// `None` for the traffic port.
    pub port: Option<u16>,
    pub path: String,
    pub matcher: Vec<RangeInclusive<u16>>,
    pub interval: Duration,
    pub timeout: Duration,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub arn: String,
    pub port: Option<u16>,
    pub target_type: String,
    pub health_check: HealthCheck,
    pub deregistration_delay: Duration,
    pub slow_start: Duration,
    /// Target stickiness (`lb_cookie`): how long a client stays with its target.
    pub stickiness: Option<Duration>,
}

/// A registered target: its id (an IP address for `ip` groups) and port; the shared type.
pub use tgbind_aws::Target as TargetKey;

/// Everything read in one pass.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub listeners: Vec<Listener>,
    pub groups: BTreeMap<String, TargetGroup>,
    /// Registered targets of each group.
    pub registered: BTreeMap<String, Vec<TargetKey>>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Reads the whole configuration.
pub async fn read(client: &elbv2::Client) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::default();
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut load_balancers = Vec::new();
    while let Some(page) = pages.next().await {
        load_balancers.extend(page?.load_balancers().iter().cloned());
    }
    for lb in &load_balancers {
        let lb_arn = lb.load_balancer_arn().unwrap_or_default();
        let listeners = client.describe_listeners().load_balancer_arn(lb_arn).send().await?;
        for l in listeners.listeners() {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let rules = client.describe_rules().listener_arn(&arn).send().await?;
            snapshot.listeners.push(Listener {
                arn,
                load_balancer_arn: lb_arn.to_string(),
                load_balancer_name: lb.load_balancer_name().unwrap_or_default().to_string(),
                protocol: l.protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
                port: l.port().unwrap_or(0) as u16,
                rules: rules.rules().iter().map(rule_of).collect(),
            });
        }
    }
    let mut pages = client.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page?.target_groups() {
            let arn = g.target_group_arn().unwrap_or_default().to_string();
            let attributes = client.describe_target_group_attributes().target_group_arn(&arn).send().await?;
            let attributes: BTreeMap<&str, &str> = attributes
                .attributes()
                .iter()
                .filter_map(|a| Some((a.key()?, a.value()?)))
                .collect();
            let group = group_of(g, &attributes);
            let registered = registered_in(client, &group).await?;
            snapshot.registered.insert(arn.clone(), registered);
            snapshot.groups.insert(arn, group);
        }
    }
    Ok(snapshot)
}

/// Who is registered in `group` now (moto reports each with its port).
pub async fn registered_in(client: &elbv2::Client, group: &TargetGroup) -> Result<Vec<TargetKey>, Error> {
    let health = tgbind_aws::targets::describe_target_health(client, &group.arn).await?;
    Ok(health.into_iter().map(|h| h.target).collect())
}

fn group_of(g: &t::TargetGroup, attributes: &BTreeMap<&str, &str>) -> TargetGroup {
    let seconds = |key: &str, default: u64| Duration::from_secs(attributes.get(key).and_then(|v| v.parse().ok()).unwrap_or(default));
    let sticky =
        attributes.get("stickiness.enabled") == Some(&"true") && attributes.get("stickiness.type").is_none_or(|t| *t == "lb_cookie");
    let traffic_port = g.port().map(|p| p as u16);
    TargetGroup {
        arn: g.target_group_arn().unwrap_or_default().to_string(),
        port: traffic_port,
        target_type: g.target_type().map(|t| t.as_str().to_string()).unwrap_or_else(|| "instance".into()),
        health_check: HealthCheck {
            enabled: g.health_check_enabled().unwrap_or(true),
            protocol: g
                .health_check_protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "HTTP".into()),
            port: g.health_check_port().and_then(|p| p.parse().ok()),
            path: g.health_check_path().unwrap_or("/").to_string(),
            matcher: g
                .matcher()
                .and_then(|m| m.http_code())
                .and_then(parse_matcher)
                .unwrap_or_else(|| vec![200..=399]),
            interval: Duration::from_secs(g.health_check_interval_seconds().unwrap_or(30) as u64),
            timeout: Duration::from_secs(g.health_check_timeout_seconds().unwrap_or(5) as u64),
            thresholds: Thresholds {
                healthy: g.healthy_threshold_count().unwrap_or(5) as u32,
                unhealthy: g.unhealthy_threshold_count().unwrap_or(2) as u32,
            },
        },
        deregistration_delay: seconds("deregistration_delay.timeout_seconds", 300),
        slow_start: seconds("slow_start.duration_seconds", 0),
        stickiness: sticky.then(|| seconds("stickiness.lb_cookie.duration_seconds", 86_400)),
    }
}

fn rule_of(r: &t::Rule) -> Rule {
    let is_default = r.is_default().unwrap_or(false) || r.priority() == Some("default");
    Rule {
        priority: if is_default {
            None
        } else {
            r.priority().and_then(|p| p.parse().ok())
        },
        conditions: r.conditions().iter().filter_map(condition_of).collect(),
        action: action_of(r.actions()),
    }
}

fn condition_of(c: &t::RuleCondition) -> Option<Condition> {
    // Each condition has its values in a `*_config` or (the older form) in `values`.
    let values = |config: Option<&[String]>| -> Vec<String> { config.filter(|v| !v.is_empty()).unwrap_or(c.values()).to_vec() };
    Some(match c.field()? {
        "path-pattern" => Condition::PathPattern(values(c.path_pattern_config().map(|p| p.values()))),
        "host-header" => Condition::HostHeader(values(c.host_header_config().map(|p| p.values()))),
        "http-request-method" => Condition::HttpRequestMethod(values(c.http_request_method_config().map(|p| p.values()))),
        "source-ip" => Condition::SourceIp(values(c.source_ip_config().map(|p| p.values()))),
        "http-header" => {
            let config = c.http_header_config()?;
            Condition::HttpHeader {
                name: config.http_header_name()?.to_string(),
                values: config.values().to_vec(),
            }
        }
        "query-string" => Condition::QueryString(
            c.query_string_config()?
                .values()
                .iter()
                .map(|kv| (kv.key().map(str::to_string), kv.value().unwrap_or_default().to_string()))
                .collect(),
        ),
        _ => return None,
    })
}

/// The action a request gets: the last in order (forward, fixed-response or redirect), unless an
/// authentication action comes first, which the emulator does not run.
fn action_of(actions: &[t::Action]) -> Action {
    let mut ordered: Vec<&t::Action> = actions.iter().collect();
    ordered.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    if let Some(auth) = ordered.iter().find(|a| {
        matches!(
            a.r#type(),
            Some(t::ActionTypeEnum::AuthenticateOidc | t::ActionTypeEnum::AuthenticateCognito)
        )
    }) {
        return Action::NotEmulated(auth.r#type().map(|t| t.as_str().to_string()).unwrap_or_default());
    }
    let Some(last) = ordered.last() else {
        return Action::NotEmulated("no action".into());
    };
    match last.r#type() {
        Some(t::ActionTypeEnum::Forward) => {
            let config = last.forward_config();
            let mut groups: Vec<WeightedGroup> = config
                .map(|c| c.target_groups())
                .unwrap_or_default()
                .iter()
                .filter_map(|g| {
                    Some(WeightedGroup {
                        arn: g.target_group_arn()?.to_string(),
                        weight: g.weight().unwrap_or(1).max(0) as u32,
                    })
                })
                .collect();
            if groups.is_empty() {
                groups.extend(last.target_group_arn().map(|arn| WeightedGroup {
                    arn: arn.to_string(),
                    weight: 1,
                }));
            }
            let stickiness = config
                .and_then(|c| c.target_group_stickiness_config())
                .filter(|s| s.enabled().unwrap_or(false))
                .map(|s| Duration::from_secs(s.duration_seconds().unwrap_or(3600).max(1) as u64));
            Action::Forward { groups, stickiness }
        }
        Some(t::ActionTypeEnum::FixedResponse) => {
            let c = last.fixed_response_config();
            Action::FixedResponse {
                status: c.and_then(|c| c.status_code()).and_then(|s| s.parse().ok()).unwrap_or(200),
                content_type: c.and_then(|c| c.content_type()).map(str::to_string),
                body: c.and_then(|c| c.message_body()).unwrap_or_default().to_string(),
            }
        }
        Some(t::ActionTypeEnum::Redirect) => {
            let c = last.redirect_config();
            let part = |f: fn(&t::RedirectActionConfig) -> Option<&str>| c.and_then(f).map(str::to_string);
            Action::Redirect(Redirect {
                protocol: part(|c| c.protocol()),
                host: part(|c| c.host()),
                port: part(|c| c.port()),
                path: part(|c| c.path()),
                query: part(|c| c.query()),
                status: match c.and_then(|c| c.status_code()) {
                    Some(t::RedirectActionStatusCodeEnum::Http302) => 302,
                    _ => 301,
                },
            })
        }
        other => Action::NotEmulated(other.map(|t| t.as_str().to_string()).unwrap_or_default()),
    }
}
