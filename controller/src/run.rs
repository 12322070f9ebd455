//! Wiring: watch caches for bindings, Services and EndpointSlices, the event mappings from Services
//! and slices to the bindings that use them, and the controller loop.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service, ServiceSpec};
use kube::api::{Api, ApiResource, ObjectMeta};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::context::{CacheGates, Context, Settings};
use crate::crd::{TargetGroupBinding, TargetType};
use crate::endpoints::EndpointSliceObject;
use crate::index::{bindings_by_arn, bindings_by_service, service_key, Index, Pending};
use crate::nodes::{node_trigger, selector_matches, slim_node};
use crate::reconcile::{error_policy, reconcile};

/// Where to watch: every namespace, or the listed ones. With exactly one namespace the watches are
/// namespaced (a Role suffices); with several, the watch is cluster-wide and filtered here.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub namespaces: Vec<String>,
}

impl Scope {
    fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        match self.namespaces.as_slice() {
            [one] => Api::namespaced(client.clone(), one),
            _ => Api::all(client.clone()),
        }
    }
    fn slice_api(&self, client: &kube::Client, ar: &ApiResource) -> Api<EndpointSliceObject> {
        match self.namespaces.as_slice() {
            [one] => Api::namespaced_with(client.clone(), one, ar),
            _ => Api::all_with(client.clone(), ar),
        }
    }
    pub fn includes(&self, namespace: Option<&str>) -> bool {
        self.namespaces.is_empty() || namespace.is_some_and(|ns| self.namespaces.iter().any(|n| n == ns))
    }
}

/// Drops what the controller never reads before a binding enters the cache: managed fields and the
/// last-applied annotation are often larger than the rest of it.
fn slim<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
    if let Some(annotations) = obj.meta_mut().annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Services and slices in the cache keep only their name and namespace of all their metadata: the
/// controller reads none of the rest (labels, annotations, owners, uid, resourceVersion; the watch
/// keeps its resourceVersion apart), one of each or more per binding stays in the cache, and the
/// cache's key of each object copies its uid and resourceVersion once more.
fn slim_dependent_meta(meta: &mut ObjectMeta) {
    *meta = ObjectMeta {
        name: meta.name.take(),
        namespace: meta.namespace.take(),
        ..Default::default()
    };
}

/// A slice in the cache: its Service's name moves out of the labels, then the metadata goes too.
fn slim_slice(slice: &mut EndpointSliceObject) {
    if slice.service_name.is_none() {
        slice.service_name = slice.service().map(Into::into);
    }
    slim_dependent_meta(&mut slice.metadata);
}

/// A Service in the cache keeps its ports, all a binding reads of it (cluster IPs, families,
/// policies and status are a good part of a Service's size, one Service per binding).
fn slim_service(service: &mut Service) {
    slim_dependent_meta(&mut service.metadata);
    service.status = None;
    if let Some(spec) = service.spec.as_mut() {
        *spec = ServiceSpec {
            ports: spec.ports.take(),
            ..Default::default()
        };
    }
}

/// Logs a watch error (the watcher then retries with backoff; a 410 Gone makes it list again).
/// Retry delays of each watch: 250 ms doubling to 3 s (up to twice that with jitter). kube's default
/// is client-go's 0.8 s to 30 s.
fn watch_backoff() -> watcher::ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(3))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .into()
}

/// Watch errors stop at their own watch (logged there, retried with its backoff). Passed on, they
/// would reach the controller's trigger stream, whose single backoff pauses every watch for each
/// error of any: after an apiserver restart (connection errors, 503s, then a 410 Gone per watch)
/// that added up to half a minute without events.
fn watch_ok<T>(r: &Result<T, watcher::Error>) -> futures::future::Ready<bool> {
    futures::future::ready(r.is_ok())
}

fn log_watch_error<T>(kind: &'static str) -> impl Fn(&Result<T, watcher::Error>) {
    move |r| {
        if let Err(e) = r {
            warn!(watch = kind, error = %e, "watch failed; retrying");
        }
    }
}

/// Changes that matter to a binding's reconcile: its spec, its deletion, its finalizers. Status
/// writes (our own) do not wake it up again.
fn binding_trigger(tgb: &TargetGroupBinding) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tgb.meta().generation.hash(&mut h);
    tgb.meta().deletion_timestamp.is_some().hash(&mut h);
    tgb.finalizers().hash(&mut h);
    Some(h.finish())
}

pub struct Running {
    /// The controller loop, with the task that opens the cache gates (see `CacheGates`).
    pub controller: futures::future::BoxFuture<'static, ()>,
}

/// The AWS side of the controller.
#[derive(Clone)]
pub struct AwsBackends {
    /// The ELB (and VPC) calls, per account: the controller's own or an assumed role's.
    pub accounts: Arc<dyn crate::aws::Accounts>,
    /// Security-group rules for `spec.networking`; `None` where EC2 is not available.
    pub networking: Option<Arc<crate::networking::SecurityGroupRules>>,
}

pub fn build(
    client: kube::Client,
    scope: Scope,
    slice_resource: ApiResource,
    aws: AwsBackends,
    metrics: Arc<crate::metrics::Metrics>,
    settings: Settings,
    workers: u16,
) -> Running {
    let wc = watcher::Config::default();

    let (bindings, bindings_writer) = reflector::store::<TargetGroupBinding>();
    let scope_for_filter = scope.clone();
    let by_service = Arc::new(bindings_by_service());
    let by_arn = Arc::new(bindings_by_arn());
    let pending = Arc::new(Pending::default());
    let (by_service_writer, by_arn_writer, scope_for_index) = (by_service.clone(), by_arn.clone(), scope.clone());
    let (pending_for_bindings, metrics_for_bindings) = (pending.clone(), metrics.clone());
    // Indexes see each event before the cache does, so a cache that reports ready implies
    // indexes that are complete.
    let binding_stream = reflector::reflector(
        bindings_writer,
        watcher(scope.api::<TargetGroupBinding>(&client), wc.clone())
            .inspect(log_watch_error("targetgroupbindings"))
            .modify(slim)
            .inspect(move |event| {
                if let Ok(event) = event {
                    let in_scope = match event {
                        watcher::Event::Apply(b) | watcher::Event::InitApply(b) | watcher::Event::Delete(b) => {
                            scope_for_index.includes(b.namespace().as_deref())
                        }
                        _ => true,
                    };
                    if in_scope {
                        by_service_writer.observe(event);
                        by_arn_writer.observe(event);
                    }
                }
            }),
    )
    .applied_objects()
    .backoff(watch_backoff())
    .filter(move |r| futures::future::ready(r.as_ref().is_ok_and(|b| scope_for_filter.includes(b.namespace().as_deref()))))
    .predicate_filter(binding_trigger, Default::default())
    .inspect(move |r| {
        if let Ok(b) = r {
            metrics_for_bindings
                .queue_depth
                .set(pending_for_bindings.add([&ObjectRef::from_obj(b)]) as i64);
        }
    });

    let (services, services_writer) = reflector::store::<Service>();
    // touched_objects: a deleted Service or slice must wake its bindings too.
    let service_stream = reflector::reflector(
        services_writer,
        watcher(scope.api::<Service>(&client), wc.clone())
            .inspect(log_watch_error("services"))
            .modify(slim_service),
    )
    .touched_objects()
    .backoff(watch_backoff())
    .filter(watch_ok);

    let slices_writer = reflector::store::Writer::<EndpointSliceObject>::new(slice_resource.clone());
    let slices = slices_writer.as_reader();
    let slices_by_service: Arc<Index<EndpointSliceObject>> = Arc::new(Index::new(|s| {
        s.service().map(|svc| service_key(&s.namespace().unwrap_or_default(), svc))
    }));
    let slices_index_writer = slices_by_service.clone();
    let slice_stream = reflector::reflector(
        slices_writer,
        watcher(scope.slice_api(&client, &slice_resource), wc.clone())
            .inspect(log_watch_error("endpointslices"))
            .modify(slim_slice)
            .inspect(move |event| {
                if let Ok(event) = event {
                    slices_index_writer.observe(event);
                }
            }),
    )
    .touched_objects()
    .backoff(watch_backoff())
    .filter(watch_ok);

    // Nodes, for instance targets. Only changes that matter (readiness, labels, leaving taints,
    // provider ID, deletion) go on to wake bindings; status heartbeats stop here.
    let (nodes, nodes_writer) = reflector::store::<Node>();
    // Per node: its trigger hash, its labels, and its labels before the last change that mattered.
    type Seen = HashMap<String, (u64, BTreeMap<String, String>, BTreeMap<String, String>)>;
    let seen_nodes: Arc<Mutex<Seen>> = Arc::default();
    let changes_seen = seen_nodes.clone();
    let node_stream = reflector::reflector(
        nodes_writer,
        watcher(Api::<Node>::all(client.clone()), wc)
            .inspect(log_watch_error("nodes"))
            .modify(slim_node),
    )
    .filter_map(move |event| {
        let changed = match event {
            Ok(watcher::Event::Apply(node)) => {
                let trigger = node_trigger(&node).unwrap_or_default();
                let labels = node.metadata.labels.clone().unwrap_or_default();
                let mut seen = changes_seen.lock().unwrap_or_else(|p| p.into_inner());
                match seen.get(&node.name_any()) {
                    Some((before, _, _)) if *before == trigger => None,
                    previous => {
                        let labels_before = previous.map(|(_, l, _)| l.clone()).unwrap_or_default();
                        seen.insert(node.name_any(), (trigger, labels, labels_before));
                        Some(Ok(node))
                    }
                }
            }
            Ok(watcher::Event::Delete(node)) => Some(Ok(node)),
            Ok(watcher::Event::InitApply(node)) => {
                let labels = node.metadata.labels.clone().unwrap_or_default();
                let entry = (node_trigger(&node).unwrap_or_default(), labels.clone(), labels);
                changes_seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(node.name_any(), entry);
                None
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        futures::future::ready(changed)
    })
    .backoff(watch_backoff())
    .filter(watch_ok);
    let bindings_for_nodes = bindings.clone();
    // A node change wakes the instance bindings whose selector matches its labels, before or after.
    let wake_for_node = move |node: Node| -> Vec<ObjectRef<TargetGroupBinding>> {
        let now = node.metadata.labels.clone().unwrap_or_default();
        let before = seen_nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node.name_any())
            .map(|(_, _, before)| before.clone())
            .unwrap_or_default();
        bindings_for_nodes
            .state()
            .iter()
            // Instance bindings, and those whose type is not known yet (not synced once).
            .filter(|b| crate::bound::known_target_type(b) != Some(TargetType::Ip))
            .filter(|b| {
                let selector = b.spec.node_selector.as_ref();
                selector_matches(selector, &now) || selector_matches(selector, &before)
            })
            .map(|b| ObjectRef::from_obj(b.as_ref()))
            .collect()
    };

    let reporter = Reporter {
        controller: "tgbind-controller".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter.clone());
    let (gates, open_gates) = CacheGates::new();
    let ctx = Arc::new(Context {
        caches: gates,
        client,
        accounts: aws.accounts,
        bindings: bindings.clone(),
        services: services.clone(),
        slices: slices.clone(),
        nodes: nodes.clone(),
        recorder,
        reporter,
        metrics: metrics.clone(),
        settings,
        pending: pending.clone(),
        bindings_by_arn: by_arn,
        slices_by_service,
        slice_resource: slice_resource.clone(),
        networking: aws.networking,
        named_ports: Default::default(),
        groups: Default::default(),
        groups_listed: Default::default(),
        vpc_cidrs: Default::default(),
        memory: Default::default(),
        verifying: tokio::sync::Semaphore::new((workers / 2).max(1) as usize),
    });

    // A Service or slice event wakes the bindings that use that Service, found in the index.
    let wake = move |namespace: Option<String>, service: &str| {
        let refs: Vec<ObjectRef<TargetGroupBinding>> = by_service
            .get(&service_key(namespace.as_deref().unwrap_or_default(), service))
            .into_iter()
            .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
            .collect();
        metrics.queue_depth.set(pending.add(&refs) as i64);
        refs
    };
    let wake_for_slices = wake.clone();
    let controller = Controller::for_stream(binding_stream, bindings.clone())
        .with_config(ControllerConfig::default().concurrency(workers))
        .watches_stream(service_stream, move |svc: Service| wake(svc.namespace(), &svc.name_any()))
        .watches_stream_with(
            slice_stream,
            move |slice: EndpointSliceObject| match slice.service() {
                Some(service) => wake_for_slices(slice.namespace(), service),
                None => Vec::new(),
            },
            slice_resource,
        )
        .watches_stream(node_stream, wake_for_node)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => {
                    tracing::debug!(binding = %obj.name, namespace = obj.namespace.as_deref().unwrap_or_default(), "reconciled")
                }
                Err(kube::runtime::controller::Error::ReconcilerFailed(e, obj)) => {
                    warn!(binding = %obj.name, error = %e, "reconcile failed")
                }
                Err(e) => warn!(error = %e, "controller"),
            }
        });

    // One waiter per store (see `CacheGates`); the bindings store is the runner's own to wait on.
    let fill_gates = async move {
        let _ = services.wait_until_ready().await;
        let _ = slices.wait_until_ready().await;
        open_gates.endpoints.send_replace(true);
        let _ = nodes.wait_until_ready().await;
        open_gates.nodes.send_replace(true);
        info!("watch caches filled");
    };
    Running {
        controller: Box::pin(async move {
            futures::join!(fill_gates, controller);
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    #[test]
    fn a_cached_service_keeps_its_ports_and_sheds_the_rest() {
        let mut service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "web", "namespace": "shop", "labels": { "app": "web" }, "uid": "u1", "resourceVersion": "7",
                "annotations": { "note": "x" }, "managedFields": [{ "manager": "kubectl" }],
            },
            "spec": {
                "type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": { "app": "web" },
                "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080 }],
            },
            "status": { "loadBalancer": {} },
        }))
        .unwrap();
        slim_service(&mut service);
        let port = IntOrString::String("http".into());
        assert_eq!(crate::desired::resolve_node_port(&service, &port).unwrap(), 30080);
        assert_eq!(crate::desired::resolve_service_port(&service, &port).unwrap(), "http");
        let spec = service.spec.as_ref().unwrap();
        assert!(spec.cluster_ip.is_none() && spec.cluster_ips.is_none() && spec.selector.is_none());
        assert!(service.status.is_none() && service.metadata.annotations.is_none() && service.metadata.managed_fields.is_none());
        assert!(service.metadata.labels.is_none() && service.metadata.uid.is_none() && service.metadata.resource_version.is_none());
        assert_eq!(
            (service.name_any(), service.namespace().as_deref()),
            ("web".to_string(), Some("shop"))
        );
    }

    #[test]
    fn a_cached_slice_keeps_its_name_and_the_service_it_belongs_to() {
        use crate::endpoints::SERVICE_NAME_LABEL;
        let mut slice: EndpointSliceObject = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "web-abc", "namespace": "shop", "uid": "u1", "resourceVersion": "42", "generateName": "web-",
                "labels": { SERVICE_NAME_LABEL: "web", "app": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
                "ownerReferences": [{ "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u" }],
            },
            "addressType": "IPv4", "endpoints": [{ "addresses": ["10.0.0.1"] }],
        }))
        .unwrap();
        assert_eq!(slice.service(), Some("web"));
        slim_slice(&mut slice);
        assert_eq!(slice.service(), Some("web"));
        assert_eq!(
            (slice.name_any(), slice.namespace()),
            ("web-abc".to_string(), Some("shop".to_string()))
        );
        assert_eq!(
            slice.metadata,
            ObjectMeta {
                name: slice.metadata.name.clone(),
                namespace: slice.metadata.namespace.clone(),
                ..Default::default()
            }
        );
        assert_eq!(slice.slice.endpoints.len(), 1);
        // Slimmed twice (a relisted object is new, but the function must not lose the name).
        slim_slice(&mut slice);
        assert_eq!(slice.service(), Some("web"));
        let mut unlabelled: EndpointSliceObject =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": "x", "namespace": "shop" }, "addressType": "IPv4" })).unwrap();
        slim_slice(&mut unlabelled);
        assert_eq!(unlabelled.service(), None);
    }
}
