//! Which bindings use which Service, maintained from the binding watch, so that a Service or
//! EndpointSlice event finds its bindings without scanning them all; and which bindings have an event
//! waiting for a reconcile (the queue depth the metrics show).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use kube::ResourceExt;

use crate::crd::TargetGroupBinding;

type ServiceKey = (String, String);
type BindingRef = ObjectRef<TargetGroupBinding>;

#[derive(Default)]
struct Maps {
    by_service: HashMap<ServiceKey, HashSet<BindingRef>>,
    service_of: HashMap<BindingRef, ServiceKey>,
}

impl Maps {
    fn insert(&mut self, tgb: &TargetGroupBinding) {
        let binding = ObjectRef::from_obj(tgb);
        self.remove(&binding);
        let key = (tgb.namespace().unwrap_or_default(), tgb.spec.service_ref.name.clone());
        self.by_service.entry(key.clone()).or_default().insert(binding.clone());
        self.service_of.insert(binding, key);
    }

    fn remove(&mut self, binding: &BindingRef) {
        if let Some(key) = self.service_of.remove(binding) {
            if let Some(set) = self.by_service.get_mut(&key) {
                set.remove(binding);
                if set.is_empty() {
                    self.by_service.remove(&key);
                }
            }
        }
    }
}

/// Service -> bindings. Writers are the binding watch only; the lock is held for map operations,
/// never across I/O.
#[derive(Default)]
pub struct ServiceIndex {
    live: RwLock<Maps>,
    /// A re-list in progress is built aside and swapped in when complete, like the watch caches.
    relisting: Mutex<Option<Maps>>,
}

impl ServiceIndex {
    pub fn observe(&self, event: &Event<TargetGroupBinding>) {
        match event {
            Event::Apply(tgb) => self.live.write().expect("index lock").insert(tgb),
            Event::Delete(tgb) => self.live.write().expect("index lock").remove(&ObjectRef::from_obj(tgb)),
            Event::Init => *self.relisting.lock().expect("index lock") = Some(Maps::default()),
            Event::InitApply(tgb) => {
                if let Some(maps) = self.relisting.lock().expect("index lock").as_mut() {
                    maps.insert(tgb);
                }
            }
            Event::InitDone => {
                if let Some(maps) = self.relisting.lock().expect("index lock").take() {
                    *self.live.write().expect("index lock") = maps;
                }
            }
        }
    }

    pub fn bindings_for(&self, namespace: &str, service: &str) -> Vec<BindingRef> {
        let live = self.live.read().expect("index lock");
        live.by_service
            .get(&(namespace.to_string(), service.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Bindings with an event waiting for their reconcile.
#[derive(Default)]
pub struct Pending(Mutex<HashSet<BindingRef>>);

impl Pending {
    /// Records refs as waiting; returns the new depth.
    pub fn add<'a>(&self, refs: impl IntoIterator<Item = &'a BindingRef>) -> usize {
        let mut set = self.0.lock().expect("pending lock");
        set.extend(refs.into_iter().cloned());
        set.len()
    }
    /// A reconcile of `binding` started; returns the new depth.
    pub fn started(&self, binding: &BindingRef) -> usize {
        let mut set = self.0.lock().expect("pending lock");
        set.remove(binding);
        set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ServiceReference, TargetGroupBindingSpec};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn tgb(name: &str, service: &str) -> TargetGroupBinding {
        let mut b = TargetGroupBinding::new(
            name,
            TargetGroupBindingSpec {
                service_ref: ServiceReference {
                    name: service.into(),
                    port: IntOrString::Int(80),
                },
                ..Default::default()
            },
        );
        b.metadata.namespace = Some("ns".into());
        b
    }

    fn names(refs: Vec<BindingRef>) -> Vec<String> {
        let mut names: Vec<String> = refs.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    }

    #[test]
    fn follows_applies_moves_deletes_and_relists() {
        let index = ServiceIndex::default();
        index.observe(&Event::Apply(tgb("a", "web")));
        index.observe(&Event::Apply(tgb("b", "web")));
        assert_eq!(names(index.bindings_for("ns", "web")), ["a", "b"]);
        // Binding b now points at another Service.
        index.observe(&Event::Apply(tgb("b", "api")));
        assert_eq!(names(index.bindings_for("ns", "web")), ["a"]);
        assert_eq!(names(index.bindings_for("ns", "api")), ["b"]);
        index.observe(&Event::Delete(tgb("a", "web")));
        assert!(index.bindings_for("ns", "web").is_empty());
        assert!(index.bindings_for("other", "api").is_empty());
        // A re-list replaces the index only when complete.
        index.observe(&Event::Init);
        index.observe(&Event::InitApply(tgb("c", "web")));
        assert_eq!(names(index.bindings_for("ns", "api")), ["b"], "old view until InitDone");
        index.observe(&Event::InitDone);
        assert_eq!(names(index.bindings_for("ns", "web")), ["c"]);
        assert!(index.bindings_for("ns", "api").is_empty());
    }

    #[test]
    fn pending_counts_distinct_bindings() {
        let p = Pending::default();
        let (a, b) = (ObjectRef::from_obj(&tgb("a", "web")), ObjectRef::from_obj(&tgb("b", "web")));
        assert_eq!(p.add([&a, &b, &a]), 2);
        assert_eq!(p.started(&a), 1);
        assert_eq!(p.started(&a), 1);
    }
}
