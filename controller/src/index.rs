//! Lookups the reconciler and the event mappings need, kept from the watch streams so that no event
//! and no reconcile lists every object: bindings by Service, bindings by target group ARN, and
//! EndpointSlices by Service. Also which bindings have an event waiting (the queue depth metric).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use kube::ResourceExt;

use crate::crd::TargetGroupBinding;

/// (namespace, name) of an indexed object.
pub type Name = (String, String);

#[derive(Default)]
struct Maps {
    /// A Vec, not a set: nearly every key has one object, and at 10,000 bindings the sets' tables
    /// were a noticeable part of memory.
    by_key: HashMap<String, Vec<Name>>,
    key_of: HashMap<Name, String>,
}

impl Maps {
    fn insert(&mut self, name: Name, key: Option<String>) {
        self.remove(&name);
        if let Some(key) = key {
            let names = self.by_key.entry(key.clone()).or_default();
            if !names.contains(&name) {
                names.push(name.clone());
            }
            self.key_of.insert(name, key);
        }
    }

    fn remove(&mut self, name: &Name) {
        if let Some(key) = self.key_of.remove(name) {
            if let Some(names) = self.by_key.get_mut(&key) {
                names.retain(|n| n != name);
                if names.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }
}

/// Objects of one kind by a key computed from each object. Written by one watch stream; the lock is
/// held for map operations only, never across I/O.
pub struct Index<K> {
    key: fn(&K) -> Option<String>,
    live: RwLock<Maps>,
    /// A re-list in progress is built aside and swapped in when complete, like the watch caches.
    relisting: Mutex<Option<Maps>>,
}

fn name_of<K: ResourceExt>(obj: &K) -> Name {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

impl<K: kube::Resource> Index<K> {
    pub fn new(key: fn(&K) -> Option<String>) -> Self {
        Self {
            key,
            live: RwLock::default(),
            relisting: Mutex::default(),
        }
    }

    pub fn observe(&self, event: &Event<K>) {
        match event {
            Event::Apply(obj) => self.live.write().expect("index lock").insert(name_of(obj), (self.key)(obj)),
            Event::Delete(obj) => self.live.write().expect("index lock").remove(&name_of(obj)),
            // The first listing builds the live view directly: with nothing to drop at InitDone, a
            // copy aside would only double the index's memory while a big cluster is listed.
            Event::Init => {
                let first = self.live.read().expect("index lock").key_of.is_empty();
                *self.relisting.lock().expect("index lock") = (!first).then(Maps::default);
            }
            // During a re-list the live view also takes each object, so it is a superset of the truth
            // (never missing an object) until InitDone drops what the re-list no longer has.
            Event::InitApply(obj) => {
                if let Some(maps) = self.relisting.lock().expect("index lock").as_mut() {
                    maps.insert(name_of(obj), (self.key)(obj));
                }
                self.live.write().expect("index lock").insert(name_of(obj), (self.key)(obj));
            }
            Event::InitDone => {
                if let Some(maps) = self.relisting.lock().expect("index lock").take() {
                    *self.live.write().expect("index lock") = maps;
                }
            }
        }
    }

    pub fn get(&self, key: &str) -> Vec<Name> {
        self.live.read().expect("index lock").by_key.get(key).cloned().unwrap_or_default()
    }
}

/// The key of a Service: `namespace/name`.
pub fn service_key(namespace: &str, service: &str) -> String {
    format!("{namespace}/{service}")
}

/// Bindings by the Service they bind.
pub fn bindings_by_service() -> Index<TargetGroupBinding> {
    Index::new(|b| Some(service_key(&b.namespace().unwrap_or_default(), &b.spec.service_ref.name)))
}

/// Bindings by their target group's ARN: the group they are bound to (so a binding that names its
/// group by name is found too), else the ARN their spec names.
pub fn bindings_by_arn() -> Index<TargetGroupBinding> {
    Index::new(|b| {
        crate::bound::read(b)
            .map(|bound| bound.target_group_arn)
            .or_else(|| b.spec.target_group_arn.clone().filter(|a| !a.is_empty()))
    })
}

/// Bindings with an event waiting for their reconcile.
#[derive(Default)]
pub struct Pending(Mutex<HashSet<ObjectRef<TargetGroupBinding>>>);

impl Pending {
    /// Records refs as waiting; returns the new depth.
    pub fn add<'a>(&self, refs: impl IntoIterator<Item = &'a ObjectRef<TargetGroupBinding>>) -> usize {
        let mut set = self.0.lock().expect("pending lock");
        set.extend(refs.into_iter().cloned());
        set.len()
    }
    /// A reconcile of `binding` started; returns the new depth.
    pub fn started(&self, binding: &ObjectRef<TargetGroupBinding>) -> usize {
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

    fn names(found: Vec<Name>) -> Vec<String> {
        let mut names: Vec<String> = found.into_iter().map(|(_, n)| n).collect();
        names.sort();
        names
    }

    #[test]
    fn follows_applies_moves_deletes_and_relists() {
        let index = bindings_by_service();
        let web = service_key("ns", "web");
        let api = service_key("ns", "api");
        index.observe(&Event::Apply(tgb("a", "web")));
        index.observe(&Event::Apply(tgb("b", "web")));
        assert_eq!(names(index.get(&web)), ["a", "b"]);
        // Binding b now points at another Service.
        index.observe(&Event::Apply(tgb("b", "api")));
        assert_eq!(names(index.get(&web)), ["a"]);
        assert_eq!(names(index.get(&api)), ["b"]);
        index.observe(&Event::Delete(tgb("a", "web")));
        assert!(index.get(&web).is_empty());
        assert!(index.get(&service_key("other", "api")).is_empty());
        // A re-list replaces the index only when complete.
        index.observe(&Event::Init);
        index.observe(&Event::InitApply(tgb("c", "web")));
        assert_eq!(names(index.get(&api)), ["b"], "nothing dropped until InitDone");
        assert_eq!(names(index.get(&web)), ["c"], "new objects visible at once");
        index.observe(&Event::InitDone);
        assert_eq!(names(index.get(&web)), ["c"]);
        assert!(index.get(&api).is_empty());
    }

    #[test]
    fn a_first_listing_builds_the_live_view_without_a_copy_aside() {
        let index = bindings_by_service();
        index.observe(&Event::Init);
        assert!(index.relisting.lock().unwrap().is_none());
        index.observe(&Event::InitApply(tgb("a", "web")));
        assert_eq!(names(index.get(&service_key("ns", "web"))), ["a"]);
        index.observe(&Event::InitDone);
        assert_eq!(names(index.get(&service_key("ns", "web"))), ["a"]);
        // A listing cut short and begun again: from then on, built aside and swapped in.
        index.observe(&Event::Init);
        assert!(index.relisting.lock().unwrap().is_some());
        index.observe(&Event::InitApply(tgb("b", "web")));
        index.observe(&Event::InitDone);
        assert_eq!(names(index.get(&service_key("ns", "web"))), ["b"]);
    }

    #[test]
    fn objects_without_a_key_are_not_indexed() {
        let index = bindings_by_arn();
        index.observe(&Event::Apply(tgb("a", "web")));
        let mut with_arn = tgb("b", "web");
        with_arn.spec.target_group_arn = Some("arn:x".into());
        index.observe(&Event::Apply(with_arn));
        assert_eq!(names(index.get("arn:x")), ["b"]);
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
