//! AWS access shared by the tgbind provider and controller: one way to build configuration from
//! the standard chain, one retry policy, and one classification of ELBv2 errors.

pub mod arn;
pub mod attempts;
mod config;
mod errors;
pub mod targets;

pub use arn::{Elbv2Arn, Elbv2Kind};
pub use config::{load_sdk_config, AssumeRole, AwsSettings, ATTEMPT_TIMEOUT, RETRY_MAX_ATTEMPTS};
pub use errors::{classify, error_code, error_message, is_throttling, ErrorKind};
pub use targets::{AwsError, HealthState, Registration, Target, TargetGroupFacts, TargetHealth};

pub use aws_sdk_elasticloadbalancingv2 as elbv2;

/// An ELBv2 client for a loaded configuration.
pub fn elbv2_client(config: &aws_types::SdkConfig) -> elbv2::Client {
    elbv2::Client::new(config)
}

/// An ELBv2 client that reports each failed attempt (retries included) to `on_failed_attempt`.
pub fn elbv2_client_observed(config: &aws_types::SdkConfig, on_failed_attempt: attempts::AttemptHook) -> elbv2::Client {
    let conf = elbv2::config::Builder::from(config)
        .interceptor(attempts::FailedAttempts(on_failed_attempt))
        .build();
    elbv2::Client::from_conf(conf)
}
