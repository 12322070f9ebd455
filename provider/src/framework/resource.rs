use async_trait::async_trait;

use super::{Diagnostics, Schema};
use crate::tfvalue::Value;

/// What a managed resource type implements. The framework decodes and encodes values, validates the
/// schema, plans defaults/unknowns/replacement and runs state upgrades; a resource only adds its own
/// rules and its AWS calls. `C` is the configured provider's context (clients, default tags).
#[async_trait]
pub trait Resource<C>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;

    /// Checks across attributes that a schema cannot express. Unknown values must be tolerated.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Paths whose change replaces the object in this case although the schema does not always say
    /// so (a network load balancer's subnets, say). Called on updates with the proposed state.
    fn replace_triggers(&self, _prior: &Value, _proposed: &Value) -> Vec<crate::tfvalue::AttributePath> {
        Vec::new()
    }

    /// Adjusts the framework's plan: values computable at plan time, extra replacement triggers.
    fn modify_plan(&self, _ctx: &C, _prior: &Value, _config: &Value, _planned: &mut Value, _diags: &mut Diagnostics) {}

    /// Creates the object. On a partial failure return the state of what exists, with errors.
    async fn create(&self, ctx: &C, planned: &Value, config: &Value, diags: &mut Diagnostics) -> Value;
    /// The object as it is now, or `Value::Null` when it no longer exists.
    async fn read(&self, ctx: &C, state: &Value, diags: &mut Diagnostics) -> Value;
    async fn update(&self, ctx: &C, prior: &Value, planned: &Value, config: &Value, diags: &mut Diagnostics) -> Value;
    async fn delete(&self, ctx: &C, prior: &Value, diags: &mut Diagnostics);
    /// Builds a state from an import ID (an ARN for every elbv2 resource).
    async fn import(&self, ctx: &C, id: &str, diags: &mut Diagnostics) -> Value;

    /// Rewrites a stored state (JSON) written by an older schema version into the current one.
    fn upgrade_state(&self, _from_version: i64, raw: serde_json::Value, _diags: &mut Diagnostics) -> serde_json::Value {
        raw
    }
}

/// What a data source implements.
#[async_trait]
pub trait DataSource<C>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    async fn read(&self, ctx: &C, config: &Value, diags: &mut Diagnostics) -> Value;
}

/// The provider itself: its configuration block and how it turns that into a context.
#[async_trait]
pub trait ProviderDefinition: Send + Sync + 'static {
    type Context: Send + Sync + 'static;
    fn schema(&self) -> &Schema;
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<Self::Context>;
    fn resources(&self) -> Vec<std::sync::Arc<dyn Resource<Self::Context>>>;
    fn data_sources(&self) -> Vec<std::sync::Arc<dyn DataSource<Self::Context>>>;
}
