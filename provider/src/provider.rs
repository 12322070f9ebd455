//! The `provider "elbv2" {}` block: its schema, and the context it configures for the resources
//! that `resources` lists.

use std::sync::Arc;

use async_trait::async_trait;
use tgbind_aws::{AssumeRole, AwsSettings};

use crate::context::Elbv2Context;
use crate::framework::{validators, Attribute, Block, DataSource, Diagnostics, NestedBlock, ProviderDefinition, Resource, Schema};
use crate::resources;
use crate::tfvalue::{AttributePath, Value};

pub struct Elbv2Provider {
    schema: Schema,
}

impl Default for Elbv2Provider {
    fn default() -> Self {
        Self::new()
    }
}

impl Elbv2Provider {
    pub fn new() -> Self {
        let block = Block::new()
            .description("AWS Elastic Load Balancing v2 (ALB/NLB). Credentials and settings come from the standard AWS chain (environment, shared config and profile, web identity, instance role, `AWS_ENDPOINT_URL*`); the arguments here override it.")
            .attribute(Attribute::string("region").description("AWS region. Defaults to the chain's region (`AWS_REGION`, profile)."))
            .attribute(Attribute::string("profile").description("Named profile from the shared config and credentials files."))
            .attribute(
                Attribute::string("endpoint_url")
                    .description("Endpoint for every AWS API the provider calls (for an emulator or a VPC endpoint). `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2` work too.")
                    .validate(validators::matches(r"^https?://", "must be an http:// or https:// URL")),
            )
            .block(
                NestedBlock::list(
                    "assume_role",
                    Block::new()
                        .attribute(Attribute::string("role_arn").required().description("ARN of the role to assume.").validate(validators::matches(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+", "must be an IAM role ARN")))
                        .attribute(Attribute::string("session_name").description("Session name; defaults to `tgbind`."))
                        .attribute(Attribute::string("external_id").description("External ID the role's trust policy requires.")),
                )
                .max_items(1),
            )
            .block(NestedBlock::list("default_tags", Block::new().attribute(Attribute::string_map("tags").description("Tags added to every taggable object this provider creates."))).max_items(1));
        Self {
            schema: Schema::new(0, block),
        }
    }
}

/// Provider settings from the block; unknown values (from resources not yet created) count as unset.
pub fn settings_from(config: &Value) -> AwsSettings {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let role = config.first_block("assume_role");
    AwsSettings {
        region: s(config.get("region")),
        profile: s(config.get("profile")),
        endpoint_url: s(config.get("endpoint_url")),
        assume_role: s(role.get("role_arn")).map(|role_arn| AssumeRole {
            role_arn,
            session_name: s(role.get("session_name")),
            external_id: s(role.get("external_id")),
        }),
    }
}

#[async_trait]
impl ProviderDefinition for Elbv2Provider {
    type Context = Elbv2Context;

    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<Elbv2Context> {
        let settings = settings_from(config);
        let sdk = tgbind_aws::load_sdk_config(&settings).await;
        if sdk.region().is_none() {
            diags.error_at(
                &AttributePath::attr("region"),
                "No AWS region",
                "Set `region` in the provider block, or AWS_REGION / a profile's region.",
            );
            return None;
        }
        Some(Elbv2Context {
            client: tgbind_aws::elbv2_client(&sdk),
            default_tags: config.first_block("default_tags").get("tags").as_string_map(),
            priority_locks: Default::default(),
            reads: Default::default(),
        })
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Elbv2Context>>> {
        resources::resources()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Elbv2Context>>> {
        resources::data_sources()
    }
}
