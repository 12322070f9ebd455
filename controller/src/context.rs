//! What every reconcile shares: clients, watch caches and indexes, metrics, settings (the
//! `Context`), and the error a reconcile can end with. Below `reconcile` and `run`, so both can use
//! it without importing each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Service};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use rand::Rng;
use tgbind_aws::{AwsError, TargetGroupFacts};

use crate::aws::Accounts;
use crate::crd::{TargetGroupBinding, TargetGroupBindingStatus};
use crate::desired::Cidr;
use crate::endpoints::EndpointSliceObject;
use crate::index::{Index, Pending};
use crate::metrics::Metrics;
use crate::networking::{NetworkingError, SecurityGroupRules};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Re-check every binding this often even without events (drift in AWS).
    pub resync: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// While some registered targets are not healthy yet, look again this soon (this group only).
    pub health_recheck: Duration,
}

pub struct Context {
    /// Whether the watch caches a reconcile reads have their first full listing.
    pub caches: CacheGates,
    pub client: kube::Client,
    /// The AWS account of each binding's target group: the controller's own, or an assumed role's.
    pub accounts: Arc<dyn Accounts>,
    pub bindings: Store<TargetGroupBinding>,
    pub services: Store<Service>,
    pub slices: Store<EndpointSliceObject>,
    /// Nodes, for instance targets.
    pub nodes: Store<Node>,
    /// Warnings: kube-runtime's recorder folds a repeated warning into one event's series.
    pub recorder: Recorder,
    /// Who publishes events, for those published without the shared recorder's cache.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    pub pending: Arc<Pending>,
    pub bindings_by_arn: Arc<Index<TargetGroupBinding>>,
    pub slices_by_service: Arc<Index<EndpointSliceObject>>,
    /// The EndpointSlice version in use (part of a slice's cache key).
    pub slice_resource: kube::api::ApiResource,
    /// Security-group rules for `spec.networking`; `None` where EC2 is not available (tests of
    /// the ELB model alone), and bindings asking for rules are then told so.
    pub networking: Option<Arc<SecurityGroupRules>>,
    /// Named container ports of the pods behind each binding's endpoints.
    pub named_ports: NamedPortCache,
    /// Target groups as AWS described them (immutable facts), by ARN or by account and name.
    pub groups: Mutex<HashMap<String, TargetGroupFacts>>,
    /// Set once the account's groups were listed into `groups` (see `reconcile::group`).
    pub groups_listed: tokio::sync::OnceCell<()>,
    /// VPC CIDRs by account and VPC, with when they were read (`None`: the VPC is not visible).
    pub vpc_cidrs: Mutex<HashMap<String, VpcCidrs>>,
    /// What this process knows of each binding (by UID) whatever the CRD keeps of status: failures
    /// in a row (the retry backoff) and the status it last wrote. With the LBC's CRD installed the
    /// API server prunes every status field but `observedGeneration`.
    pub memory: Mutex<HashMap<String, BindingMemory>>,
    /// Reconciles that only verify hold one of these while they run, half of the workers: the
    /// other half stays free for changes, which would otherwise wait for a worker behind verifying
    /// reconciles queued in the API budget (see `reconcile::targets::Stop::Deferred`).
    pub verifying: tokio::sync::Semaphore,
}

/// Gates that open once the watch caches are filled, for any number of waiting reconciles.
///
/// kube-runtime's `Store::wait_until_ready` keeps a single waker: of several reconciles waiting on
/// it at once, only the last one polled is woken, and the others wait forever (a controller
/// restarted with many bindings to catch up on stalled most of them). One task waits on each store
/// and opens these gates, which wake every waiter.
#[derive(Clone)]
pub struct CacheGates {
    endpoints: tokio::sync::watch::Receiver<bool>,
    nodes: tokio::sync::watch::Receiver<bool>,
}

/// The sending side of `CacheGates`, held by the task that waits on the stores.
pub struct OpenCacheGates {
    pub endpoints: tokio::sync::watch::Sender<bool>,
    pub nodes: tokio::sync::watch::Sender<bool>,
}

impl CacheGates {
    pub fn new() -> (CacheGates, OpenCacheGates) {
        let (endpoints_tx, endpoints) = tokio::sync::watch::channel(false);
        let (nodes_tx, nodes) = tokio::sync::watch::channel(false);
        (
            CacheGates { endpoints, nodes },
            OpenCacheGates {
                endpoints: endpoints_tx,
                nodes: nodes_tx,
            },
        )
    }

    /// Until Services and EndpointSlices are listed (never decide from a half-filled cache: an
    /// empty slice cache would read as "no endpoints").
    pub async fn endpoints(&self) {
        let _ = self.endpoints.clone().wait_for(|ready| *ready).await;
    }

    /// Until Nodes are listed (instance targets).
    pub async fn nodes(&self) {
        let _ = self.nodes.clone().wait_for(|ready| *ready).await;
    }
}

/// A VPC's CIDRs and when they were read; `None` when the account cannot see the VPC.
pub type VpcCidrs = (Instant, Option<Vec<Cidr>>);

/// See [`Context::memory`].
#[derive(Debug, Clone, Default)]
pub struct BindingMemory {
    pub failures: u32,
    pub written: Option<TargetGroupBindingStatus>,
    /// `Synced::targets_digest` of the last successful sync.
    pub synced_targets: Option<u64>,
    /// After a settled sync (or a record trusted at start): until the next verification, a
    /// reconcile that finds the same spec generation and desired targets makes no AWS call.
    pub quiet: Option<Quiet>,
}

/// See [`BindingMemory::quiet`].
#[derive(Debug, Clone, Copy)]
pub struct Quiet {
    pub generation: Option<i64>,
    pub until: Instant,
}

/// Per binding: (pod name, address) -> the pod's named container ports.
pub type NamedPortCache = std::sync::Mutex<HashMap<String, HashMap<(String, String), Vec<(String, i32)>>>>;

/// What ends a reconcile with an error (problems with the binding itself are reported in its
/// status instead, see `status::Problem`). Each keeps its cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("AWS: {0}")]
    Aws(#[from] AwsError),
    #[error("security group rules: {0}")]
    Networking(#[from] NetworkingError),
}

/// Exponential backoff with full jitter, capped: retry `n` waits a random time up to
/// min(cap, base * 2^n).
pub fn backoff(failures: u32, settings: &Settings) -> Duration {
    let ceiling = settings
        .backoff_base
        .saturating_mul(1u32 << failures.min(20))
        .min(settings.backoff_cap);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}
