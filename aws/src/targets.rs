//! Target registration in a target group: the calls the controller makes (and the provider's
//! target-group data source will read), batched within the API's limits.

use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::{classify, error_message, ErrorKind};

/// RegisterTargets / DeregisterTargets take at most this many targets per call.
pub const MAX_TARGETS_PER_CALL: usize = 200;

/// A target: an IP address or instance ID, and the port traffic goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub id: String,
    pub port: i32,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, self.port)
    }
}

/// ELB's view of a registered target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Initial,
    Healthy,
    Unhealthy,
    Unused,
    Draining,
    Unavailable,
    Other,
}

impl HealthState {
    /// ELB's own word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unused => "unused",
            Self::Draining => "draining",
            Self::Unavailable => "unavailable",
            Self::Other => "unknown",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "initial" => Self::Initial,
            "healthy" => Self::Healthy,
            "unhealthy" => Self::Unhealthy,
            "unused" => Self::Unused,
            "draining" => Self::Draining,
            "unavailable" => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub target: Target,
    pub state: HealthState,
    /// ELB's reason code (`Elb.RegistrationInProgress`, `Target.FailedHealthChecks`...).
    pub reason: Option<String>,
}

/// An AWS failure, reduced to what callers decide on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    pub kind: ErrorKind,
    /// The AWS error code, or `"transport"` for failures that never reached AWS.
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn from_sdk<E>(err: &E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        AwsError {
            kind: classify(err),
            code: err.code().unwrap_or("transport").to_string(),
            message: error_message(err),
        }
    }
}

fn descriptions(targets: &[Target]) -> Vec<TargetDescription> {
    targets
        .iter()
        .map(|t| TargetDescription::builder().id(&t.id).port(t.port).build())
        .collect()
}

/// A target to register, with the availability zone to register it in: `None` for the target's
/// own zone (an address inside the group's VPC), `Some("all")` for an address outside it (a peered
/// VPC, another account), as AWS requires for such IP targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub target: Target,
    pub availability_zone: Option<String>,
}

impl From<Target> for Registration {
    fn from(target: Target) -> Self {
        Registration {
            target,
            availability_zone: None,
        }
    }
}

/// What bindings need to know about a target group. AWS never changes these for a group once
/// created, so they can be cached for as long as the group exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroupFacts {
    pub arn: String,
    pub name: String,
    /// `instance`, `ip`, `lambda` or `alb`.
    pub target_type: String,
    /// `ipv4` or `ipv6`.
    pub ip_address_type: String,
    pub vpc_id: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
}

/// Reads one group by ARN, or without an ARN by name; `None` when no such group exists.
pub async fn describe_target_group(
    client: &crate::elbv2::Client,
    arn: Option<&str>,
    name: Option<&str>,
) -> Result<Option<TargetGroupFacts>, AwsError> {
    let request = match arn {
        Some(arn) => client.describe_target_groups().target_group_arns(arn),
        None => client.describe_target_groups().set_names(name.map(|n| vec![n.to_string()])),
    };
    match request.send().await {
        Ok(out) => Ok(out.target_groups().first().map(facts_of)),
        Err(e) if classify(&e) == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AwsError::from_sdk(&e)),
    }
}

/// One page (up to 400, the API's largest) of the account's target groups, and the marker of the
/// next page.
pub async fn list_target_groups_page(
    client: &crate::elbv2::Client,
    marker: Option<String>,
) -> Result<(Vec<TargetGroupFacts>, Option<String>), AwsError> {
    let out = client
        .describe_target_groups()
        .page_size(400)
        .set_marker(marker)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?;
    Ok((
        out.target_groups().iter().map(facts_of).collect(),
        out.next_marker().filter(|m| !m.is_empty()).map(str::to_string),
    ))
}

fn facts_of(tg: &crate::elbv2::types::TargetGroup) -> TargetGroupFacts {
    TargetGroupFacts {
        arn: tg.target_group_arn().unwrap_or_default().to_string(),
        name: tg.target_group_name().unwrap_or_default().to_string(),
        target_type: tg.target_type().map_or("instance", |t| t.as_str()).to_string(),
        ip_address_type: tg.ip_address_type().map_or("ipv4", |t| t.as_str()).to_string(),
        vpc_id: tg.vpc_id().map(str::to_string),
        protocol: tg.protocol().map(|p| p.as_str().to_string()),
        port: tg.port(),
    }
}

pub async fn describe_target_health(client: &crate::elbv2::Client, arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
    let out = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let t = d.target()?;
            let health = d.target_health();
            Some(TargetHealth {
                target: Target {
                    id: t.id()?.to_string(),
                    port: t.port()?,
                },
                state: health
                    .and_then(|h| h.state())
                    .map_or(HealthState::Other, |s| HealthState::parse(s.as_str())),
                reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
            })
        })
        .collect())
}

/// Registers in batches of at most [`MAX_TARGETS_PER_CALL`]; returns the number of calls made.
pub async fn register_targets(client: &crate::elbv2::Client, arn: &str, targets: &[Registration]) -> Result<usize, AwsError> {
    let mut calls = 0;
    for batch in targets.chunks(MAX_TARGETS_PER_CALL) {
        let batch: Vec<TargetDescription> = batch
            .iter()
            .map(|r| {
                TargetDescription::builder()
                    .id(&r.target.id)
                    .port(r.target.port)
                    .set_availability_zone(r.availability_zone.clone())
                    .build()
            })
            .collect();
        client
            .register_targets()
            .target_group_arn(arn)
            .set_targets(Some(batch))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        calls += 1;
    }
    Ok(calls)
}

pub async fn deregister_targets(client: &crate::elbv2::Client, arn: &str, targets: &[Target]) -> Result<usize, AwsError> {
    let mut calls = 0;
    for batch in targets.chunks(MAX_TARGETS_PER_CALL) {
        match client
            .deregister_targets()
            .target_group_arn(arn)
            .set_targets(Some(descriptions(batch)))
            .send()
            .await
        {
            Ok(_) => calls += 1,
            // Already gone is what we wanted.
            Err(e) if classify(&e) == ErrorKind::NotFound && e.code() == Some("InvalidTarget") => calls += 1,
            Err(e) => return Err(AwsError::from_sdk(&e)),
        }
    }
    Ok(calls)
}
