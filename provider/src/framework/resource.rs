use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Diagnostics, Schema};
use crate::tfvalue::{AttributePath, Value};

/// How an existing object is named for `terraform import` (and `import` blocks): what the ID is,
/// an example, and a check of its form made before any remote call.
#[derive(Debug, Clone, Copy)]
pub struct ImportId {
    /// What the ID is, in the docs and errors: "a target group ARN".
    pub description: &'static str,
    /// An ID of the right form, shown in the docs and errors.
    pub example: &'static str,
    /// Whether `id` has the right form.
    pub accepts: fn(&str) -> bool,
}

/// Which optional blocks a read shows (see [`Schema::keeps_blocks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocks {
    /// The ones the prior state has, which are the ones the configuration manages (every refresh).
    AsPrior,
    /// Every block AWS has settings for: import on a Terraform whose plans may keep a block the
    /// configuration leaves out (1.11 and later), so configurations that state the block and
    /// configurations that omit it both plan empty.
    All,
    /// Only blocks whose feature is switched on (stickiness, access logs): import on older Terraform,
    /// where a block the configuration leaves out would be planned away. Configurations that omit
    /// a block for a default setting plan empty; ones that state it plan one update that writes the
    /// same values.
    SwitchedOn,
}

impl Blocks {
    /// Whether a block the prior state has (`in_prior`), or one whose feature is on (`switched_on`),
    /// is shown. `All` shows every block the model can fill.
    pub fn show(self, in_prior: bool, switched_on: bool) -> bool {
        match self {
            Blocks::AsPrior => in_prior,
            Blocks::All => true,
            Blocks::SwitchedOn => switched_on,
        }
    }
}

/// What the configured provider gives every resource besides its clients: the tags that
/// `default_tags` adds to every taggable object (planned into `tags_all` by the framework).
pub trait ProviderContext: Send + Sync + 'static {
    fn default_tags(&self) -> &BTreeMap<String, String>;
    /// Called before and after every create, update or delete: what this process read before may
    /// no longer hold.
    fn writing(&self) {}
}

/// What a managed resource type implements. The framework decodes and encodes values, validates the
/// schema (and the schema's own cross-field checks), plans defaults/unknowns/replacement and
/// `tags_all`, checks import IDs and runs state upgrades; a resource only adds its AWS calls and
/// the few plan decisions that are its own. `C` is the configured provider's context (clients,
/// default tags).
#[async_trait]
pub trait Resource<C: Sync>: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Built once, when the provider starts.
    fn schema(&self) -> Schema;
    fn import_id(&self) -> ImportId;

    /// Paths whose change replaces the object in this case although the schema does not always say
    /// so (a network load balancer's subnets, say). Called on updates with the proposed state.
    fn replace_triggers(&self, _prior: &Value, _proposed: &Value) -> Vec<AttributePath> {
        Vec::new()
    }

    /// Adjusts the framework's plan: values computable at plan time, extra replacement triggers.
    fn modify_plan(&self, _ctx: &C, _prior: &Value, _config: &Value, _planned: &mut Value, _diags: &mut Diagnostics) {}

    /// Creates the object. On a partial failure return the state of what exists, with errors.
    async fn create(&self, ctx: &C, planned: &Value, config: &Value, diags: &mut Diagnostics) -> Value;
    /// The object with this `id` as it is now, or `Value::Null` when it no longer exists. `prior` is
    /// the state (or plan) the answer replaces, null on import; `blocks` says which optional blocks
    /// to show, since on import no configuration says which ones the user manages.
    async fn read_id(&self, ctx: &C, id: &str, prior: &Value, blocks: Blocks, diags: &mut Diagnostics) -> Value;
    async fn update(&self, ctx: &C, prior: &Value, planned: &Value, config: &Value, diags: &mut Diagnostics) -> Value;
    async fn delete(&self, ctx: &C, prior: &Value, diags: &mut Diagnostics);

    /// The object a state describes, as it is now (`Value::Null` when it is gone).
    async fn read(&self, ctx: &C, state: &Value, diags: &mut Diagnostics) -> Value {
        match state.get("id").as_str() {
            Some(id) => self.read_id(ctx, id, state, Blocks::AsPrior, diags).await,
            None => Value::Null,
        }
    }
    /// Builds a state from an import ID that passed [`ImportId::accepts`].
    async fn import(&self, ctx: &C, id: &str, blocks: Blocks, diags: &mut Diagnostics) -> Value {
        self.read_id(ctx, id, &Value::Null, blocks, diags).await
    }

    /// `terraform query` (Terraform 1.14 and later): the schema of a `list` block's `config` (the
    /// filters), or `None` when this resource is not listed.
    fn list_schema(&self) -> Option<Schema> {
        None
    }
    /// The objects a `list` block's `config` selects, each as an import would read it.
    async fn list(&self, _ctx: &C, _filter: &Value, _blocks: Blocks, _diags: &mut Diagnostics) -> Vec<Value> {
        Vec::new()
    }

    /// Resource types of terraform-provider-aws (`hashicorp/aws`) whose state a `moved` block may
    /// hand to this resource (MoveResourceState). Their attribute names are ours, so the state is
    /// taken as it is: attributes we lack are dropped and the next refresh fills the rest.
    fn moves_from(&self) -> &'static [&'static str] {
        &[]
    }
    /// Adjusts a state taken over from terraform-provider-aws where that provider records more
    /// than the configuration manages (computed blocks ours keep only when configured).
    fn adopt_moved_state(&self, _state: &mut Value) {}

    /// Rewrites a stored state (JSON) written by an older schema version into the current one.
    fn upgrade_state(&self, _from_version: i64, raw: serde_json::Value, _diags: &mut Diagnostics) -> serde_json::Value {
        raw
    }
}

/// What a data source implements.
#[async_trait]
pub trait DataSource<C>: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Built once, when the provider starts.
    fn schema(&self) -> Schema;
    async fn read(&self, ctx: &C, config: &Value, diags: &mut Diagnostics) -> Value;
}

/// The provider itself: its configuration block and how it turns that into a context.
#[async_trait]
pub trait ProviderDefinition: Send + Sync + 'static {
    type Context: ProviderContext;
    fn schema(&self) -> &Schema;
    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<Self::Context>;
    fn resources(&self) -> Vec<std::sync::Arc<dyn Resource<Self::Context>>>;
    fn data_sources(&self) -> Vec<std::sync::Arc<dyn DataSource<Self::Context>>>;
}
