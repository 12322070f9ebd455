//! What every resource and data source gets once the provider is configured: the ELBv2 client,
//! the provider's default tags, and the locks that serialise rule priority choices. It sits below
//! the resources: they import it, it imports none of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tgbind_aws::elbv2;

use crate::framework::ProviderContext;

pub struct Elbv2Context {
    pub client: elbv2::Client,
    pub default_tags: BTreeMap<String, String>,
    /// Serialises automatic rule priority choices per listener.
    pub priority_locks: PriorityLocks,
}

impl ProviderContext for Elbv2Context {
    fn default_tags(&self) -> &BTreeMap<String, String> {
        &self.default_tags
    }
}

/// One lock per listener: Terraform creates resources in parallel through one provider process,
/// so choosing "the next free priority" and creating the rule happen under it, one rule at a time.
/// The lock holds the highest priority this process knows to be in use on the listener, so a batch
/// of rules reads the listener's rules once, not once per rule.
#[derive(Default)]
pub struct PriorityLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<i64>>>>>);

impl PriorityLocks {
    pub fn for_listener(&self, listener_arn: &str) -> Arc<tokio::sync::Mutex<Option<i64>>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(listener_arn.to_string()).or_default().clone()
    }
}
