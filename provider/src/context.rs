//! What every resource and data source gets once the provider is configured: the ELBv2 client,
//! the provider's default tags, and the locks that serialise rule priority choices. It sits below
//! the resources: they import it, it imports none of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tgbind_aws::elbv2;
use tgbind_aws::elbv2::types::{Listener, Rule, TargetGroup};

use crate::framework::ProviderContext;
use crate::resources::coalesce::Coalescer;
use crate::resources::read_ahead::{Epoch, Listings, TagAhead, TAGS_PER_CALL};

pub struct Elbv2Context {
    pub client: elbv2::Client,
    pub default_tags: BTreeMap<String, String>,
    /// Serialises automatic rule priority choices per listener.
    pub priority_locks: PriorityLocks,
    /// Reads that concurrent refreshes share (see `resources::coalesce`).
    pub reads: SharedReads,
}

/// Reads that concurrent refreshes share: batch reads (one coalescer per batch API, 20 ARNs per
/// call, DescribeTags' limit kept for the others) and the refresh read-ahead.
pub struct SharedReads {
    pub target_groups: Arc<Coalescer<TargetGroup>>,
    pub listeners: Arc<Coalescer<Listener>>,
    pub rules: Arc<Coalescer<Rule>>,
    pub tags: Arc<Coalescer<BTreeMap<String, String>>>,
    /// This process's writes so far: reads from an earlier epoch answer no refresh.
    pub epoch: Epoch,
    /// The account's target groups, a load balancer's listeners, a listener's rules.
    pub listed_target_groups: Listings<TargetGroup>,
    pub listed_listeners: Listings<Listener>,
    pub listed_rules: Listings<Rule>,
    pub tag_ahead: Arc<TagAhead>,
}

impl Default for SharedReads {
    fn default() -> Self {
        SharedReads {
            target_groups: Coalescer::new(20),
            listeners: Coalescer::new(20),
            rules: Coalescer::new(20),
            tags: Coalescer::new(TAGS_PER_CALL),
            epoch: Epoch::default(),
            listed_target_groups: Listings::default(),
            listed_listeners: Listings::default(),
            listed_rules: Listings::default(),
            tag_ahead: Arc::default(),
        }
    }
}

impl ProviderContext for Elbv2Context {
    fn default_tags(&self) -> &BTreeMap<String, String> {
        &self.default_tags
    }
    fn writing(&self) {
        self.reads.epoch.advance();
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
