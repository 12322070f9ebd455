//! `elb-dataplane`: a small load-balancer data plane for tests, in front of moto on loopback.
//!
//! moto answers the ELBv2 API but never routes a request, health-checks a target or drains one.
//! This sits between the clients and moto: the API passes through unchanged (so moto stays the
//! source of truth for configuration), while the data plane follows what is configured (refreshed
//! after every write that passes through, and every second for writes made to moto directly) and
//!
//! - serves each listener on a loopback port of its own (HTTP listeners route like an ALB: rule
//!   conditions, priorities, weighted forwards, group and target stickiness, fixed responses,
//!   redirects; TCP listeners forward streams like an NLB);
//! - health-checks every registered target of each group a listener forwards to, with the group's
//!   protocol, port, path, matcher, interval, timeout and thresholds;
//! - answers `DescribeTargetHealth` itself with the states it saw (`initial`, `healthy`,
//!   `unhealthy`, `unused`, `draining`, `unavailable`) and ELB's reason codes;
//! - drains a target for the group's `deregistration_delay` after `DeregisterTargets` (no new
//!   requests, in-flight ones finish) and ramps new targets up over `slow_start`.
//!
//! Where each listener is served is told by `GET /dataplane/listeners` on the API port. It knows
//! nothing of tgbind. Limits (it is an emulator, not AWS): no TLS (HTTPS listeners and health
//! checks run in clear), no authentication actions (answered 501), instance targets are reached only
//! when their id is an address, one request per upstream connection, and `time_scale` divides
//! every health-check interval, timeout, deregistration delay and slow start so tests run in seconds.

mod api;
mod checks;
pub mod health;
mod listeners;
pub mod model;
pub mod routing;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tgbind_aws::elbv2;

use health::{Health, Phase};
use model::{Snapshot, TargetKey};

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the ELBv2 API is served (port 0: a free one).
    pub listen: SocketAddr,
    /// Health-check intervals and timeouts, deregistration delays and slow starts are divided by
    /// this (1.0: as configured).
    pub time_scale: f64,
    /// How often configuration made behind the data plane's back is picked up.
    pub refresh: Duration,
    /// Where targets are reached: a target whose address falls in a translation's network is
    /// connected to at the same host part of its loopback network (a VPC's pod addresses served
    /// on 127.x). Targets outside every translation are reached at their own address.
    pub reach: Vec<Translation>,
}

/// `10.42.0.0/16=127.42.0.0`: targets in 10.42.0.0/16 are reached at 127.42.x.y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    network: u32,
    prefix: u32,
    to: u32,
}

impl std::str::FromStr for Translation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s}: expected NETWORK/PREFIX=LOOPBACK_NETWORK, e.g. 10.42.0.0/16=127.42.0.0");
        let (from, to) = s.split_once('=').ok_or_else(bad)?;
        let (network, prefix) = from.split_once('/').ok_or_else(bad)?;
        let network: std::net::Ipv4Addr = network.parse().map_err(|_| bad())?;
        let to: std::net::Ipv4Addr = to.parse().map_err(|_| bad())?;
        let prefix: u32 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 || !to.is_loopback() {
            return Err(bad());
        }
        Ok(Translation {
            network: u32::from(network),
            prefix,
            to: u32::from(to),
        })
    }
}

impl Translation {
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// The loopback address `ip` is reached at, when it is in this network.
    pub fn apply(&self, ip: std::net::Ipv4Addr) -> Option<std::net::Ipv4Addr> {
        let (ip, mask) = (u32::from(ip), self.mask());
        (ip & mask == self.network & mask).then(|| std::net::Ipv4Addr::from((self.to & mask) | (ip & !mask)))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_scale: 1.0,
            refresh: Duration::from_secs(1),
            reach: Vec::new(),
        }
    }
}

/// A running data plane; stopped (its ports closed) on drop.
pub struct Dataplane {
    pub api: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Dataplane {
    /// Starts in front of the ELBv2 API at `upstream` (moto's endpoint, `http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, options: Options) -> std::io::Result<Dataplane> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("elb-dataplane")
            .enable_all()
            .build()?;
        let upstream_addr: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("upstream {upstream}: {e}")))?;
        let client = crate::moto::elbv2_client_at(upstream, crate::moto::test_credentials());
        let shared = Arc::new(Shared {
            upstream: upstream_addr,
            client,
            time_scale: options.time_scale.max(f64::EPSILON),
            reach: options.reach.clone(),
            world: Mutex::new(World::default()),
            refreshing: tokio::sync::Mutex::new(()),
        });
        let listener = std::net::TcpListener::bind(options.listen)?;
        listener.set_nonblocking(true)?;
        let api = listener.local_addr()?;
        {
            let _guard = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(listener)?;
            runtime.spawn(api::serve(shared.clone(), listener));
            runtime.spawn(checks::run(shared.clone()));
            let (shared, every) = (shared.clone(), options.refresh);
            runtime.spawn(async move {
                loop {
                    if let Err(e) = shared.refresh().await {
                        eprintln!("elb-dataplane: refresh: {e}");
                    }
                    tokio::time::sleep(every).await;
                }
            });
        }
        Ok(Dataplane {
            api,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The ELBv2 endpoint to give clients (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.api)
    }

    /// Where a listener is served, once the data plane has seen it.
    pub fn listener_address(&self, listener_arn: &str) -> Option<SocketAddr> {
        self.shared.world.lock().unwrap().bound.get(listener_arn).map(|b| b.address)
    }

    /// Waits for the listener to be served (the data plane follows the API within its refresh).
    pub fn wait_for_listener(&self, listener_arn: &str, limit: Duration) -> SocketAddr {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(address) = self.listener_address(listener_arn) {
                return address;
            }
            assert!(Instant::now() < deadline, "the data plane never served {listener_arn}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The state `DescribeTargetHealth` would report for each target of a group.
    pub fn target_states(&self, group_arn: &str) -> BTreeMap<TargetKey, String> {
        let world = self.shared.world.lock().unwrap();
        world
            .targets
            .get(group_arn)
            .map(|targets| {
                targets
                    .iter()
                    .map(|(key, record)| (key.clone(), world.reported(group_arn, record).0.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

struct Shared {
    upstream: SocketAddr,
    /// An ELBv2 client talking to moto directly (configuration reads).
    client: elbv2::Client,
    time_scale: f64,
    reach: Vec<Translation>,
    world: Mutex<World>,
    /// One refresh at a time: a refresh that started before a write must not undo it.
    refreshing: tokio::sync::Mutex<()>,
}

impl Shared {
    fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.time_scale)
    }

    /// Where a target is connected to (`None`: its id is no address, an instance id say).
    fn address(&self, key: &TargetKey, port: i32) -> Option<SocketAddr> {
        let ip: std::net::IpAddr = key.id.parse().ok()?;
        let port = u16::try_from(port).ok()?;
        let ip = match ip {
            std::net::IpAddr::V4(v4) => self.reach.iter().find_map(|t| t.apply(v4)).unwrap_or(v4).into(),
            v6 => v6,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// Reads the whole configuration and serves it.
    async fn refresh(self: &Arc<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let _one = self.refreshing.lock().await;
        let snapshot = model::read(&self.client).await?;
        let mut world = self.world.lock().unwrap();
        world.apply(snapshot, Instant::now());
        listeners::bind_new(self, &mut world);
        Ok(())
    }

    /// Re-reads who is registered in one group (after a registration passed through).
    async fn refresh_group(self: &Arc<Self>, arn: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let group = self.world.lock().unwrap().snapshot.groups.get(arn).cloned();
        let Some(group) = group else { return self.refresh().await };
        let _one = self.refreshing.lock().await;
        let registered = model::registered_in(&self.client, &group).await?;
        let mut world = self.world.lock().unwrap();
        let mut snapshot = world.snapshot.clone();
        snapshot.registered.insert(arn.to_string(), registered);
        world.apply(snapshot, Instant::now());
        Ok(())
    }
}

/// One registered (or draining) target as the data plane tracks it.
#[derive(Debug, Clone)]
struct TargetRecord {
    health: Health,
    checks_done: u32,
    /// When its slow start began (it turned healthy while the group's slow start applied).
    slow_start_since: Option<Instant>,
    draining_until: Option<Instant>,
    next_check: Instant,
    checking: bool,
}

impl TargetRecord {
    fn new(now: Instant) -> Self {
        TargetRecord {
            health: Health::default(),
            checks_done: 0,
            slow_start_since: None,
            draining_until: None,
            next_check: now,
            checking: false,
        }
    }
}

/// A listener being served.
struct Bound {
    address: SocketAddr,
    protocol: String,
    port: u16,
    load_balancer_arn: String,
    load_balancer_name: String,
    task: tokio::task::AbortHandle,
}

#[derive(Default)]
struct World {
    snapshot: Snapshot,
    targets: BTreeMap<String, BTreeMap<TargetKey, TargetRecord>>,
    bound: BTreeMap<String, Bound>,
}

impl World {
    /// Takes in a new read of the configuration: new registrations start `initial`, targets moto
    /// no longer has stay while they drain, listeners that went away stop being served.
    fn apply(&mut self, snapshot: Snapshot, now: Instant) {
        let mut targets = std::mem::take(&mut self.targets);
        for (arn, registered) in &snapshot.registered {
            let records = targets.entry(arn.clone()).or_default();
            for key in registered {
                let record = records.entry(key.clone()).or_insert_with(|| TargetRecord::new(now));
                if record.draining_until.is_some() {
                    // Registered again while draining: it starts over.
                    *record = TargetRecord::new(now);
                }
            }
            records.retain(|key, r| registered.contains(key) || r.draining_until.is_some_and(|until| until > now));
        }
        targets.retain(|arn, _| snapshot.groups.contains_key(arn));
        self.targets = targets;
        let listeners: Vec<&str> = snapshot.listeners.iter().map(|l| l.arn.as_str()).collect();
        self.bound.retain(|arn, bound| {
            let keep = snapshot
                .listeners
                .iter()
                .any(|l| l.arn == *arn && l.protocol == bound.protocol && l.port == bound.port);
            if !keep {
                bound.task.abort();
            }
            keep && listeners.contains(&arn.as_str())
        });
        self.snapshot = snapshot;
    }

    /// Whether any listener forwards to the group (ELB health-checks only those).
    fn in_use(&self, group_arn: &str) -> bool {
        self.snapshot.listeners.iter().any(|l| l.forwarded_groups().any(|g| g == group_arn))
    }

    /// The state and reason `DescribeTargetHealth` reports.
    fn reported(&self, group_arn: &str, r: &TargetRecord) -> (&'static str, Option<(&'static str, String)>) {
        if r.draining_until.is_some() {
            return (
                "draining",
                Some(("Target.DeregistrationInProgress", "Target deregistration is in progress".into())),
            );
        }
        if !self.in_use(group_arn) {
            return (
                "unused",
                Some((
                    "Target.NotInUse",
                    "Target group is not configured to receive traffic from the load balancer".into(),
                )),
            );
        }
        if self.snapshot.groups.get(group_arn).is_some_and(|g| !g.health_check.enabled) {
            return (
                "unavailable",
                Some(("Target.HealthCheckDisabled", "Health checks are disabled".into())),
            );
        }
        match r.health.phase {
            Phase::Healthy => ("healthy", None),
            Phase::Initial if r.checks_done == 0 => (
                "initial",
                Some(("Elb.RegistrationInProgress", "Target registration is in progress".into())),
            ),
            Phase::Initial => (
                "initial",
                Some(("Elb.InitialHealthChecking", "Initial health checks in progress".into())),
            ),
            Phase::Unhealthy => {
                let failure = r.health.last_failure.unwrap_or(health::Failure::Failed);
                ("unhealthy", Some((failure.reason(), failure.description())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Translation;

    #[test]
    fn translations_keep_the_host_part_and_leave_other_networks_alone() {
        let t: Translation = "10.42.0.0/16=127.42.0.0".parse().unwrap();
        assert_eq!(t.apply("10.42.1.14".parse().unwrap()), Some("127.42.1.14".parse().unwrap()));
        assert_eq!(t.apply("10.43.1.14".parse().unwrap()), None);
        assert!("10.42.0.0/16=10.1.0.0".parse::<Translation>().is_err(), "only onto loopback");
        assert!("10.42.0.0=127.0.0.0".parse::<Translation>().is_err());
    }
}
