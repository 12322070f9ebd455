//! The controller's view of AWS for target groups, behind traits so tests can put a scripted model
//! of ELB (health transitions, draining) where moto cannot show them:
//! - [`TargetGroupApi`]: the calls about one account's target groups (ELB) and their VPCs (EC2);
//! - [`Accounts`]: which account a binding's calls go to — the controller's own credentials, or
//!   the role a binding names in `iamRoleArnToAssume`, assumed through STS (cached per role; the
//!   SDK's provider refreshes the credentials before they expire).
//!
//! The real implementations use the shared `tgbind-aws` calls and count every call in the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::SdkConfig;
use tgbind_aws::targets::{self, AwsError};
use tgbind_aws::{elbv2, Registration, Target, TargetGroupFacts, TargetHealth};

use crate::budget::{Budget, Family};
use crate::metrics::Metrics;

#[async_trait]
pub trait TargetGroupApi: Send + Sync {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError>;
    async fn register_targets(&self, arn: &str, targets: &[Registration]) -> Result<(), AwsError>;
    async fn deregister_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError>;
    /// The group with this ARN, or (without an ARN) with this name; `None` when there is none.
    async fn describe_target_group(&self, arn: Option<&str>, name: Option<&str>) -> Result<Option<TargetGroupFacts>, AwsError>;
    /// Every target group of the account, 400 per call: at a first start with many bindings, far
    /// fewer calls than one `describe_target_group` each. `None` where a model does not list.
    async fn list_target_groups(&self) -> Result<Option<Vec<TargetGroupFacts>>, AwsError> {
        Ok(None)
    }
    /// A VPC's IPv4 and IPv6 CIDRs (primary and secondary); `None` when this account cannot see
    /// the VPC (a peered VPC of another account).
    async fn vpc_cidrs(&self, vpc_id: &str) -> Result<Option<Vec<String>>, AwsError>;
}

/// A role a binding asks for (`iamRoleArnToAssume`, `assumeRoleExternalId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssumedRole {
    pub role_arn: String,
    pub external_id: Option<String>,
}

/// The account a binding's target group calls go to.
#[async_trait]
pub trait Accounts: Send + Sync {
    async fn for_role(&self, role: Option<&AssumedRole>) -> Arc<dyn TargetGroupApi>;
}

/// One account for every binding (tests of the ELB model).
pub struct SingleAccount(pub Arc<dyn TargetGroupApi>);

#[async_trait]
impl Accounts for SingleAccount {
    async fn for_role(&self, _: Option<&AssumedRole>) -> Arc<dyn TargetGroupApi> {
        self.0.clone()
    }
}

/// ELBv2 and EC2 clients of one set of credentials, within the controller's API budget.
pub struct ElbV2 {
    client: elbv2::Client,
    ec2: aws_sdk_ec2::Client,
    metrics: Arc<Metrics>,
    budget: Arc<Budget>,
}

/// A hook for the SDK's failed attempts (retries included): counted in the metrics, and each
/// throttled one slows the family's budget down.
pub fn attempt_hook(metrics: &Arc<Metrics>, budget: &Arc<Budget>, family: Family) -> tgbind_aws::attempts::AttemptHook {
    let (metrics, budget) = (metrics.clone(), budget.clone());
    Arc::new(move |code: &str| {
        metrics.failed_attempt(code);
        if tgbind_aws::is_throttling(code) {
            budget.answered(family, true);
        }
    })
}

impl ElbV2 {
    /// Clients for `config`, reporting every failed attempt (retries included) to the metrics
    /// and the budget.
    pub fn new(config: &SdkConfig, metrics: Arc<Metrics>, budget: Arc<Budget>) -> Self {
        let client = tgbind_aws::elbv2_client_observed(config, attempt_hook(&metrics, &budget, Family::Elbv2));
        let ec2 = aws_sdk_ec2::config::Builder::from(config)
            .interceptor(tgbind_aws::attempts::FailedAttempts(attempt_hook(&metrics, &budget, Family::Ec2)))
            .build();
        Self {
            client,
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            metrics,
            budget,
        }
    }

    /// Waits for the budget, makes the call, and tells the budget it went through.
    async fn within_budget<T>(&self, family: Family, call: impl std::future::Future<Output = Result<T, AwsError>>) -> Result<T, AwsError> {
        self.budget.acquire(family).await;
        let r = call.await;
        if r.is_ok() {
            self.budget.answered(family, false);
        }
        r
    }
}

#[async_trait]
impl TargetGroupApi for ElbV2 {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        let r = self
            .within_budget(Family::Elbv2, targets::describe_target_health(&self.client, arn))
            .await;
        self.metrics.aws_result("DescribeTargetHealth", 1, &r);
        r
    }

    async fn register_targets(&self, arn: &str, list: &[Registration]) -> Result<(), AwsError> {
        let r = self
            .within_budget(Family::Elbv2, targets::register_targets(&self.client, arn, list))
            .await;
        let calls = *r.as_ref().unwrap_or(&1);
        self.metrics.aws_result("RegisterTargets", calls, &r);
        r.map(|_| ())
    }

    async fn deregister_targets(&self, arn: &str, list: &[Target]) -> Result<(), AwsError> {
        let r = self
            .within_budget(Family::Elbv2, targets::deregister_targets(&self.client, arn, list))
            .await;
        let calls = *r.as_ref().unwrap_or(&1);
        self.metrics.aws_result("DeregisterTargets", calls, &r);
        r.map(|_| ())
    }

    async fn describe_target_group(&self, arn: Option<&str>, name: Option<&str>) -> Result<Option<TargetGroupFacts>, AwsError> {
        let r = self
            .within_budget(Family::Elbv2, targets::describe_target_group(&self.client, arn, name))
            .await;
        self.metrics.aws_result("DescribeTargetGroups", 1, &r);
        r
    }

    async fn list_target_groups(&self) -> Result<Option<Vec<TargetGroupFacts>>, AwsError> {
        let (mut all, mut marker) = (Vec::new(), None);
        loop {
            let r = self
                .within_budget(Family::Elbv2, targets::list_target_groups_page(&self.client, marker))
                .await;
            self.metrics.aws_result("DescribeTargetGroups", 1, &r);
            let (page, next) = r?;
            all.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(Some(all)),
            }
        }
    }

    async fn vpc_cidrs(&self, vpc_id: &str) -> Result<Option<Vec<String>>, AwsError> {
        self.budget.acquire(Family::Ec2).await;
        let r = match self.ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
            Ok(out) => Ok(out.vpcs().first().map(|vpc| {
                let associated = |state: Option<&str>| state.is_none_or(|s| s == "associated");
                let v4 = vpc
                    .cidr_block_association_set()
                    .iter()
                    .filter(|a| associated(a.cidr_block_state().and_then(|s| s.state()).map(|s| s.as_str())))
                    .filter_map(|a| a.cidr_block().map(str::to_string));
                let v6 = vpc
                    .ipv6_cidr_block_association_set()
                    .iter()
                    .filter(|a| associated(a.ipv6_cidr_block_state().and_then(|s| s.state()).map(|s| s.as_str())))
                    .filter_map(|a| a.ipv6_cidr_block().map(str::to_string));
                let mut all: Vec<String> = vpc.cidr_block().map(str::to_string).into_iter().chain(v4).chain(v6).collect();
                all.sort();
                all.dedup();
                all
            })),
            Err(e) if e.code() == Some("InvalidVpcID.NotFound") => Ok(None),
            Err(e) => Err(AwsError::from_sdk(&e)),
        };
        self.metrics.aws_result("DescribeVpcs", 1, &r);
        if r.is_ok() {
            self.budget.answered(Family::Ec2, false);
        }
        r
    }
}

/// The controller's own account, and one per role a binding assumes.
pub struct AwsAccounts {
    config: SdkConfig,
    metrics: Arc<Metrics>,
    /// One budget for every account: the limit is the controller's.
    budget: Arc<Budget>,
    own: Arc<ElbV2>,
    assumed: Mutex<HashMap<AssumedRole, Arc<ElbV2>>>,
}

impl AwsAccounts {
    pub fn new(config: SdkConfig, metrics: Arc<Metrics>, budget: Arc<Budget>) -> Self {
        let own = Arc::new(ElbV2::new(&config, metrics.clone(), budget.clone()));
        Self {
            config,
            metrics,
            budget,
            own,
            assumed: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Accounts for AwsAccounts {
    async fn for_role(&self, role: Option<&AssumedRole>) -> Arc<dyn TargetGroupApi> {
        let Some(role) = role else { return self.own.clone() };
        if let Some(clients) = self.assumed.lock().unwrap_or_else(|p| p.into_inner()).get(role) {
            return clients.clone();
        }
        // The provider assumes the role on first use and refreshes the credentials before they
        // expire; a failure (AccessDenied on sts:AssumeRole) surfaces on the calls made with it.
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn).session_name("tgbind-controller");
        if let Some(id) = &role.external_id {
            provider = provider.external_id(id);
        }
        let credentials = provider.configure(&self.config).build().await;
        let config = self
            .config
            .clone()
            .into_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build();
        let clients = Arc::new(ElbV2::new(&config, self.metrics.clone(), self.budget.clone()));
        self.assumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(role.clone())
            .or_insert(clients)
            .clone()
    }
}
