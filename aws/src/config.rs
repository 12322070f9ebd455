use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_types::region::Region;
use aws_types::SdkConfig;

/// Attempts per call (first try included) for throttling and transient errors.
pub const RETRY_MAX_ATTEMPTS: u32 = 8;

/// An attempt without an answer in this time is abandoned and retried like any transient error:
/// without it, one request lost on a half-dead connection holds a reconcile (or a Terraform
/// operation) forever. ELBv2 and EC2 answer in well under a second.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings layered over the standard AWS chain (environment, shared config and profile, web
/// identity for IRSA / Pod Identity, container and instance roles, `AWS_ENDPOINT_URL*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub assume_role: Option<AssumeRole>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// Builds an SDK configuration. Retries use the SDK's standard mode, which backs off exponentially
/// with full jitter; the cap keeps a throttling storm from stalling a run for minutes.
pub async fn load_sdk_config(settings: &AwsSettings) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(RETRY_MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let base = loader.load().await;
    let Some(role) = &settings.assume_role else {
        return base;
    };
    let mut provider =
        AssumeRoleProvider::builder(&role.role_arn).session_name(role.session_name.clone().unwrap_or_else(|| "tgbind".to_string()));
    if let Some(id) = &role.external_id {
        provider = provider.external_id(id);
    }
    let credentials = provider.configure(&base).build().await;
    base.into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .build()
}
