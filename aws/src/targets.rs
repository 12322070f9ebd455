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
pub async fn register_targets(client: &crate::elbv2::Client, arn: &str, targets: &[Target]) -> Result<usize, AwsError> {
    let mut calls = 0;
    for batch in targets.chunks(MAX_TARGETS_PER_CALL) {
        client
            .register_targets()
            .target_group_arn(arn)
            .set_targets(Some(descriptions(batch)))
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

/// The ARN of the target group with this name, if any.
pub async fn target_group_arn_by_name(client: &crate::elbv2::Client, name: &str) -> Result<Option<String>, AwsError> {
    match client.describe_target_groups().names(name).send().await {
        Ok(out) => Ok(out.target_groups().first().and_then(|tg| tg.target_group_arn()).map(str::to_string)),
        Err(e) if classify(&e) == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AwsError::from_sdk(&e)),
    }
}
