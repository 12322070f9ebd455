//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! writes to AWS. The leader renews every `renew`; a standby takes over once the holder has not
//! renewed for `duration`. Losing the lease ends the process (the Deployment restarts it as a
//! standby), which is simpler to reason about than winding the controller down in place.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
    pub renew: Duration,
}

/// What to do with a lease as found, as a pure decision.
#[derive(Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Ours: renew it.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Held by another, live replica.
    Wait,
}

pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> LeaseDecision {
    let Some(spec) = spec else { return LeaseDecision::Acquire };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => return LeaseDecision::Renew,
        None | Some("") => return LeaseDecision::Acquire,
        _ => {}
    }
    let duration = spec.lease_duration_seconds.unwrap_or(15) as i64;
    match &spec.renew_time {
        Some(MicroTime(renewed)) if now.as_second() - renewed.as_second() < duration => LeaseDecision::Wait,
        _ => LeaseDecision::Acquire,
    }
}

pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl Elector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    fn spec(&self, acquire_time: Option<MicroTime>, transitions: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.duration.as_secs() as i32),
            acquire_time,
            renew_time: Some(MicroTime(Timestamp::now())),
            lease_transitions: transitions,
            ..Default::default()
        }
    }

    /// One attempt; true while we hold the lease. Writes carry the resourceVersion read, so two
    /// replicas racing for an expired lease cannot both win.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let existing = self.api.get_opt(&self.config.name).await?;
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec(Some(MicroTime(Timestamp::now())), Some(0))),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let next = match decide(lease.spec.as_ref(), &self.config.identity, Timestamp::now()) {
            LeaseDecision::Wait => return Ok(false),
            LeaseDecision::Renew => LeaseSpec {
                renew_time: Some(MicroTime(Timestamp::now())),
                ..spec
            },
            LeaseDecision::Acquire => self.spec(Some(MicroTime(Timestamp::now())), Some(spec.lease_transitions.unwrap_or(0) + 1)),
        };
        lease.spec = Some(next);
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica leads.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return;
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "leader election: lease not readable"),
            }
            tokio::time::sleep(self.config.renew).await;
        }
    }

    /// Renews until a renewal fails for longer than the lease lasts; returns when leadership is lost.
    pub async fn hold(&self) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.renew).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    warn!("leader election: another replica holds the lease");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "leader election: renewal failed");
                    if last_renewed.elapsed() >= self.config.duration {
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up at shutdown so a standby takes over at once.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await {
            if decide(lease.spec.as_ref(), &self.config.identity, Timestamp::now()) == LeaseDecision::Renew {
                if let Some(spec) = lease.spec.as_mut() {
                    spec.holder_identity = None;
                    spec.renew_time = None;
                }
                let _ = self.api.replace(&self.config.name, &PostParams::default(), &lease).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(duration),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let now = Timestamp::from_second(1000).unwrap();
        assert_eq!(decide(None, "a", now), LeaseDecision::Acquire);
        assert_eq!(decide(Some(&spec("a", 990, 15)), "a", now), LeaseDecision::Renew);
        assert_eq!(decide(Some(&spec("b", 990, 15)), "a", now), LeaseDecision::Wait);
        assert_eq!(decide(Some(&spec("b", 980, 15)), "a", now), LeaseDecision::Acquire, "expired");
        assert_eq!(decide(Some(&spec("", 999, 15)), "a", now), LeaseDecision::Acquire, "released");
    }
}
