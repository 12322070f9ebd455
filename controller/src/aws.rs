//! The controller's view of the ELB API, behind a trait so tests can put a scripted model of ELB
//! (health transitions, draining) where moto cannot show them. The real implementation uses the
//! shared `tgbind-aws` calls and counts every call in the metrics.

use std::sync::Arc;

use async_trait::async_trait;
use tgbind_aws::targets::{self, AwsError};
use tgbind_aws::{elbv2, Target, TargetHealth};

use crate::metrics::Metrics;

#[async_trait]
pub trait TargetGroupApi: Send + Sync {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError>;
    async fn register_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError>;
    async fn deregister_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError>;
    async fn target_group_arn_by_name(&self, name: &str) -> Result<Option<String>, AwsError>;
}

pub struct ElbV2 {
    client: elbv2::Client,
    metrics: Arc<Metrics>,
}

impl ElbV2 {
    pub fn new(client: elbv2::Client, metrics: Arc<Metrics>) -> Self {
        Self { client, metrics }
    }
}

#[async_trait]
impl TargetGroupApi for ElbV2 {
    async fn describe_target_health(&self, arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        let r = targets::describe_target_health(&self.client, arn).await;
        self.metrics.aws_result("DescribeTargetHealth", 1, &r);
        r
    }

    async fn register_targets(&self, arn: &str, list: &[Target]) -> Result<(), AwsError> {
        let r = targets::register_targets(&self.client, arn, list).await;
        let calls = *r.as_ref().unwrap_or(&1);
        self.metrics.aws_result("RegisterTargets", calls, &r);
        r.map(|_| ())
    }

    async fn deregister_targets(&self, arn: &str, list: &[Target]) -> Result<(), AwsError> {
        let r = targets::deregister_targets(&self.client, arn, list).await;
        let calls = *r.as_ref().unwrap_or(&1);
        self.metrics.aws_result("DeregisterTargets", calls, &r);
        r.map(|_| ())
    }

    async fn target_group_arn_by_name(&self, name: &str) -> Result<Option<String>, AwsError> {
        let r = targets::target_group_arn_by_name(&self.client, name).await;
        self.metrics.aws_result("DescribeTargetGroups", 1, &r);
        r
    }
}
