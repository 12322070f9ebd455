//! `spec.networking`: ingress rules on the security group of the targets (the pod's interface for
//! ip targets, the node's primary interface for instance targets), aggregated across bindings.
//!
//! - [`rules`]: pure decisions (permissions wanted, group chosen, rules to add or revoke);
//! - [`ec2`]: the EC2 calls, behind a trait;
//! - [`SecurityGroupRules`] (here): what every binding needs, per group, and one writer per group.
//!
//! Safety: only rules described [`rules::SHARED_DESCRIPTION`] are ever revoked, and none until the
//! needs of every binding with `networking` are known (after a restart, until each has synced once).

pub mod ec2;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tgbind_aws::AwsError;
use tracing::{info, warn};

use crate::crd::TargetType;
use crate::metrics::Metrics;
use ec2::SecurityGroupApi;
use rules::{aggregate, choose_group, plan_group, Permission};

/// Why the rules could not be put in place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkingError {
    /// A target's interface or group could not be determined (or is ambiguous).
    #[error("{0}")]
    Unresolved(String),
    #[error("EC2: {0}")]
    Aws(#[from] AwsError),
    /// Some other binding's needs are not known yet, so unneeded rules stay for now.
    #[error("rules no binding needs wait to be revoked until every binding with networking has synced")]
    RevocationDeferred,
}

/// Per binding: the groups of its targets and the rules it asks of each.
type Needs = BTreeMap<String, BTreeSet<Permission>>;

#[derive(Default)]
struct State {
    needs: HashMap<String, Needs>,
    /// The group chosen for each target (address or instance), per binding; pruned to the
    /// binding's current targets at each sync, so a cache miss means a new target.
    group_of_target: HashMap<String, BTreeMap<String, String>>,
    /// Tag keys of groups met on interfaces with several groups.
    tags: HashMap<String, BTreeSet<String>>,
    /// The managed rules each group held after our last read and writes, and when.
    held: HashMap<String, (BTreeSet<Permission>, Instant)>,
}

pub struct SecurityGroupRules {
    api: Arc<dyn SecurityGroupApi>,
    metrics: Arc<Metrics>,
    cluster_name: String,
    /// A group read less than this long ago is not read again while what it held still serves
    /// (drift in EC2 is healed at this pace).
    reread: Duration,
    state: Mutex<State>,
    /// One writer per group: concurrent reconciles of bindings sharing a group take turns.
    group_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SecurityGroupRules {
    pub fn new(api: Arc<dyn SecurityGroupApi>, metrics: Arc<Metrics>, cluster_name: String, reread: Duration) -> Self {
        Self {
            api,
            metrics,
            cluster_name,
            reread,
            state: Mutex::default(),
            group_locks: Mutex::default(),
        }
    }

    /// Whether this binding's needs are known (it synced since start).
    pub fn knows(&self, binding: &str) -> bool {
        self.state.lock().unwrap().needs.contains_key(binding)
    }

    /// Puts `binding`'s rules (`permissions`, for the groups of `targets`) in place and revokes
    /// managed rules no binding needs any more. `may_revoke` says false while some other binding's
    /// needs are unknown; it is asked after this binding's needs are recorded, so of bindings
    /// syncing at the same time the last to record sees every other and can revoke.
    pub async fn sync(
        &self,
        binding: &str,
        target_type: TargetType,
        vpc: Option<&str>,
        targets: &BTreeSet<String>,
        permissions: BTreeSet<Permission>,
        may_revoke: impl Fn() -> bool,
    ) -> Result<(), NetworkingError> {
        // Targets whose group cannot be found are reported after the others' rules are in place:
        // one pod without an interface must not keep the rest of the Service unreachable.
        let (groups, unresolved) = if permissions.is_empty() {
            Default::default()
        } else {
            self.resolve(binding, target_type, vpc, targets).await?
        };
        let needs: Needs = groups.values().map(|g| (g.clone(), permissions.clone())).collect();
        let previous = self.state.lock().unwrap().needs.insert(binding.to_string(), needs.clone());
        let touched: BTreeSet<String> = previous.unwrap_or_default().into_keys().chain(needs.into_keys()).collect();
        self.sync_groups(&touched, may_revoke()).await?;
        match unresolved.len() {
            0 => Ok(()),
            1 => Err(NetworkingError::Unresolved(unresolved.join(""))),
            n => Err(NetworkingError::Unresolved(format!("{} (and {} more)", unresolved[0], n - 1))),
        }
    }

    /// A binding is going away: its rules go too where no other binding needs them. `registered`
    /// are its targets still in the group (their groups are found again after a restart).
    pub async fn forget(
        &self,
        binding: &str,
        target_type: TargetType,
        vpc: Option<&str>,
        registered: &BTreeSet<String>,
        may_revoke: impl Fn() -> bool,
    ) -> Result<(), NetworkingError> {
        // Targets whose interface is gone (a terminated node) have no group to clean: skip them.
        let (found, unresolved) = self.resolve(binding, target_type, vpc, registered).await?;
        for e in unresolved {
            warn!(error = %e, "no security group to clean for a target of a deleted binding");
        }
        let mut touched: BTreeSet<String> = found.into_values().collect();
        {
            let mut state = self.state.lock().unwrap();
            touched.extend(state.needs.get(binding).into_iter().flat_map(|n| n.keys().cloned()));
            // Until revocation is allowed, the groups are kept (with no rules) so a retry finds them.
            let tombstone: Needs = touched.iter().map(|g| (g.clone(), BTreeSet::new())).collect();
            state.needs.insert(binding.to_string(), tombstone);
            state.group_of_target.remove(binding);
        }
        let may_revoke = may_revoke();
        self.sync_groups(&touched, may_revoke).await?;
        if !may_revoke {
            return Err(NetworkingError::RevocationDeferred);
        }
        self.state.lock().unwrap().needs.remove(binding);
        Ok(())
    }

    /// The group of each target's interface, from the cache or EC2, and a message for each target
    /// whose group cannot be found (no interface holds it, or its groups are ambiguous).
    async fn resolve(
        &self,
        binding: &str,
        target_type: TargetType,
        vpc: Option<&str>,
        targets: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, String>, Vec<String>), NetworkingError> {
        let (mut known, missing): (BTreeMap<String, String>, Vec<String>) = {
            let state = self.state.lock().unwrap();
            let cached = state.group_of_target.get(binding);
            let known = targets
                .iter()
                .filter_map(|t| Some((t.clone(), cached?.get(t)?.clone())))
                .collect::<BTreeMap<_, _>>();
            let missing = targets.iter().filter(|t| !known.contains_key(*t)).cloned().collect();
            (known, missing)
        };
        let mut unresolved = Vec::new();
        if !missing.is_empty() {
            let (found, kind) = match target_type {
                TargetType::Ip => (self.api.groups_of_addresses(vpc, &missing).await?, "address"),
                TargetType::Instance => (self.api.groups_of_instances(&missing).await?, "instance"),
            };
            let on_shared_interfaces: BTreeSet<String> = found.values().filter(|g| g.len() > 1).flatten().cloned().collect();
            let tags = self.tags_for(on_shared_interfaces).await?;
            for target in &missing {
                let chosen = match found.get(target) {
                    None => Err(format!("no network interface holds {kind} {target}")),
                    Some(groups) => choose_group(groups, &tags, &self.cluster_name).map_err(|e| format!("{kind} {target}: {e}")),
                };
                match chosen {
                    Ok(group) => {
                        known.insert(target.clone(), group);
                    }
                    Err(e) => unresolved.push(e),
                }
            }
        }
        self.state
            .lock()
            .unwrap()
            .group_of_target
            .insert(binding.to_string(), known.clone());
        Ok((known, unresolved))
    }

    /// Tag keys of `groups`, read once per group.
    async fn tags_for(&self, wanted: BTreeSet<String>) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError> {
        let unknown: Vec<String> = {
            let state = self.state.lock().unwrap();
            wanted.iter().filter(|g| !state.tags.contains_key(*g)).cloned().collect()
        };
        if !unknown.is_empty() {
            let read = self.api.tag_keys(&unknown).await?;
            self.state.lock().unwrap().tags.extend(read);
        }
        let state = self.state.lock().unwrap();
        Ok(wanted
            .into_iter()
            .filter_map(|g| Some((g.clone(), state.tags.get(&g)?.clone())))
            .collect())
    }

    async fn sync_groups(&self, groups: &BTreeSet<String>, may_revoke: bool) -> Result<(), NetworkingError> {
        for group in groups {
            self.sync_group(group, may_revoke).await?;
        }
        Ok(())
    }

    /// Makes the group's managed rules the union of what the bindings need of it.
    async fn sync_group(&self, group: &str, may_revoke: bool) -> Result<(), NetworkingError> {
        let lock = self.group_locks.lock().unwrap().entry(group.to_string()).or_default().clone();
        let _turn = lock.lock().await;
        let desired = {
            let state = self.state.lock().unwrap();
            let desired = aggregate(group, state.needs.values());
            // What we last saw the group hold still serves: everything needed is there, and
            // nothing unneeded unless revocation has to wait anyway.
            let fresh = state.held.get(group).is_some_and(|(held, at)| {
                at.elapsed() < self.reread && desired.is_subset(held) && (!may_revoke || held.is_subset(&desired))
            });
            if fresh {
                return Ok(());
            }
            desired
        };
        let current = self.api.shared_rules(group).await?;
        let changes = plan_group(&desired, &current, may_revoke);
        if !may_revoke && !current.is_subset(&desired) {
            info!(
                group,
                kept = current.difference(&desired).count(),
                "unneeded security group rules kept until every binding with networking has synced"
            );
        }
        if !changes.authorize.is_empty() {
            self.api.authorize(group, &changes.authorize).await?;
            self.metrics.security_group_rules_authorized.inc_by(changes.authorize.len() as u64);
            info!(group, rules = %listed(&changes.authorize), "security group rules authorized");
        }
        if !changes.revoke.is_empty() {
            self.api.revoke(group, &changes.revoke).await?;
            self.metrics.security_group_rules_revoked.inc_by(changes.revoke.len() as u64);
            info!(group, rules = %listed(&changes.revoke), "security group rules revoked");
        }
        let held: BTreeSet<Permission> = current
            .into_iter()
            .chain(changes.authorize)
            .filter(|r| !changes.revoke.contains(r))
            .collect();
        self.state.lock().unwrap().held.insert(group.to_string(), (held, Instant::now()));
        Ok(())
    }
}

fn listed(rules: &[Permission]) -> String {
    rules.iter().map(Permission::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    //! The bookkeeping against a scripted EC2 model (interfaces and groups in memory).
    use super::*;
    use async_trait::async_trait;
    use rules::Peer;

    #[derive(Default)]
    struct ScriptedEc2 {
        interfaces: BTreeMap<String, Vec<String>>,
        rules: Mutex<BTreeMap<String, BTreeSet<Permission>>>,
        lookups: Mutex<usize>,
        reads: Mutex<usize>,
    }

    #[async_trait]
    impl SecurityGroupApi for ScriptedEc2 {
        async fn groups_of_addresses(&self, _: Option<&str>, addresses: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
            *self.lookups.lock().unwrap() += 1;
            Ok(addresses
                .iter()
                .filter_map(|a| Some((a.clone(), self.interfaces.get(a)?.clone())))
                .collect())
        }
        async fn groups_of_instances(&self, ids: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
            self.groups_of_addresses(None, ids).await
        }
        async fn tag_keys(&self, _: &[String]) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError> {
            Ok(BTreeMap::new())
        }
        async fn shared_rules(&self, group: &str) -> Result<BTreeSet<Permission>, AwsError> {
            *self.reads.lock().unwrap() += 1;
            Ok(self.rules.lock().unwrap().get(group).cloned().unwrap_or_default())
        }
        async fn authorize(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError> {
            self.rules
                .lock()
                .unwrap()
                .entry(group.into())
                .or_default()
                .extend(rules.iter().cloned());
            Ok(())
        }
        async fn revoke(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError> {
            let mut all = self.rules.lock().unwrap();
            let held = all.entry(group.into()).or_default();
            rules.iter().for_each(|r| {
                held.remove(r);
            });
            Ok(())
        }
    }

    fn port(n: i32) -> BTreeSet<Permission> {
        BTreeSet::from([Permission {
            protocol: "tcp".into(),
            from_port: n,
            to_port: n,
            peer: Peer::Group("sg-lb".into()),
        }])
    }
    fn ips(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }
    fn manager() -> (Arc<ScriptedEc2>, SecurityGroupRules) {
        let ec2 = Arc::new(ScriptedEc2 {
            interfaces: BTreeMap::from([
                ("10.0.0.1".into(), vec!["sg-nodes".into()]),
                ("10.0.0.2".into(), vec!["sg-nodes".into()]),
            ]),
            ..Default::default()
        });
        let rules = SecurityGroupRules::new(ec2.clone(), Arc::new(Metrics::new()), String::new(), Duration::from_secs(600));
        (ec2, rules)
    }
    /// Syncs `binding`'s ip targets asking tcp `n` from sg-lb.
    async fn sync_ip(rules: &SecurityGroupRules, binding: &str, targets: &[&str], n: i32, may_revoke: bool) -> Result<(), NetworkingError> {
        rules
            .sync(binding, TargetType::Ip, None, &ips(targets), port(n), || may_revoke)
            .await
    }
    fn held(ec2: &ScriptedEc2) -> BTreeSet<Permission> {
        ec2.rules.lock().unwrap().get("sg-nodes").cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn scripted_ec2_unneeded_rules_wait_until_every_binding_is_known() {
        let (ec2, rules) = manager();
        // A rule left by a binding whose needs are not known yet (just after a restart).
        ec2.rules.lock().unwrap().insert("sg-nodes".into(), port(9000));
        for _ in 0..3 {
            sync_ip(&rules, "ns/a", &["10.0.0.1"], 80, false).await.unwrap();
        }
        assert_eq!(held(&ec2), port(80).union(&port(9000)).cloned().collect());
        assert_eq!(
            *ec2.reads.lock().unwrap(),
            1,
            "while revocation waits, the group is not read at every sync"
        );
        sync_ip(&rules, "ns/a", &["10.0.0.1"], 80, true).await.unwrap();
        assert_eq!(held(&ec2), port(80));
        assert_eq!(*ec2.reads.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn scripted_ec2_revocation_is_decided_after_the_binding_records_its_needs() {
        let (ec2, rules) = manager();
        ec2.rules.lock().unwrap().insert("sg-nodes".into(), port(9000));
        // Two bindings that sync at the same time: each asks "are the others known?" only after
        // recording its own needs, so the second sees the first and revokes the stale rule.
        let everyone = ["ns/a", "ns/b"];
        let others_known = |me: &str| everyone.iter().filter(|k| **k != me).all(|k| rules.knows(k));
        let known_when_a_asked = std::cell::Cell::new(None);
        rules
            .sync("ns/a", TargetType::Ip, None, &ips(&["10.0.0.1"]), port(80), || {
                let known = others_known("ns/a");
                known_when_a_asked.set(Some(rules.knows("ns/a")));
                known
            })
            .await
            .unwrap();
        assert_eq!(known_when_a_asked.get(), Some(true), "asked after its own needs were recorded");
        assert!(held(&ec2).contains(&port(9000).pop_first().unwrap()), "b unknown yet: kept");
        rules
            .sync("ns/b", TargetType::Ip, None, &ips(&["10.0.0.2"]), port(80), || others_known("ns/b"))
            .await
            .unwrap();
        assert_eq!(held(&ec2), port(80));
    }

    #[tokio::test]
    async fn scripted_ec2_a_shared_rule_outlives_one_of_its_bindings() {
        let (ec2, rules) = manager();
        sync_ip(&rules, "ns/a", &["10.0.0.1"], 80, true).await.unwrap();
        sync_ip(&rules, "ns/b", &["10.0.0.2"], 80, true).await.unwrap();
        rules
            .forget("ns/a", TargetType::Ip, None, &ips(&["10.0.0.1"]), || true)
            .await
            .unwrap();
        assert_eq!(held(&ec2), port(80));
        assert!(!rules.knows("ns/a"));
        // Deferred while others are unknown: kept, and the call says so (the finalizer stays).
        assert_eq!(
            rules.forget("ns/b", TargetType::Ip, None, &ips(&["10.0.0.2"]), || false).await,
            Err(NetworkingError::RevocationDeferred)
        );
        assert_eq!(held(&ec2), port(80));
        // The retry finds the groups again even with the targets gone.
        rules.forget("ns/b", TargetType::Ip, None, &BTreeSet::new(), || true).await.unwrap();
        assert!(held(&ec2).is_empty());
    }

    #[tokio::test]
    async fn scripted_ec2_known_targets_cost_no_lookup_and_unresolved_ones_are_reported_after_the_rest() {
        let (ec2, rules) = manager();
        sync_ip(&rules, "ns/a", &["10.0.0.1"], 80, true).await.unwrap();
        sync_ip(&rules, "ns/a", &["10.0.0.1"], 80, true).await.unwrap();
        assert_eq!(*ec2.lookups.lock().unwrap(), 1);
        let err = sync_ip(&rules, "ns/b", &["10.0.0.2", "10.0.0.9"], 443, true).await.unwrap_err();
        assert_eq!(
            err,
            NetworkingError::Unresolved("no network interface holds address 10.0.0.9".into())
        );
        assert_eq!(held(&ec2), port(80).union(&port(443)).cloned().collect());
    }
}
