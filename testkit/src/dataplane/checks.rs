//! The health checker: every registered, non-draining target of each group a listener forwards
//! to is probed at the group's interval, and the results feed `health::Health`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;

use super::health::{self, Failure, Health};
use super::model::HealthCheck;
use super::Shared;

const TICK: Duration = Duration::from_millis(25);

pub(super) async fn run(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(TICK).await;
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let mut world = shared.world.lock().unwrap();
            // Drains that ran out end here (the next refresh would too, later).
            for records in world.targets.values_mut() {
                records.retain(|_, r| r.draining_until.is_none_or(|until| until > now));
            }
            let in_use: Vec<String> = world.targets.keys().filter(|arn| world.in_use(arn)).cloned().collect();
            for arn in in_use {
                let Some(group) = world.snapshot.groups.get(&arn).cloned() else {
                    continue;
                };
                if !group.health_check.enabled {
                    continue;
                }
                let interval = shared.scaled(group.health_check.interval);
                for (key, record) in world.targets.get_mut(&arn).into_iter().flatten() {
                    if record.draining_until.is_none() && !record.checking && record.next_check <= now {
                        record.checking = true;
                        record.next_check = now + interval;
                        due.push((arn.clone(), key.clone(), group.health_check.clone()));
                    }
                }
            }
        }
        for (arn, key, check) in due {
            let shared = shared.clone();
            tokio::spawn(async move {
                let timeout = shared.scaled(check.timeout);
                let address = shared.address(&key, check.port.map_or(key.port, i32::from));
                let result = probe(address, &check, timeout).await;
                let mut world = shared.world.lock().unwrap();
                let Some(record) = world.targets.get_mut(&arn).and_then(|t| t.get_mut(&key)) else {
                    return;
                };
                record.checking = false;
                if record.draining_until.is_some() {
                    return;
                }
                let before = record.health;
                record.health = record.health.observe(result, check.thresholds);
                record.checks_done += 1;
                if Health::became_healthy(before, record.health) {
                    let now = Instant::now();
                    let slow_start = world
                        .snapshot
                        .groups
                        .get(&arn)
                        .map(|g| shared.scaled(g.slow_start))
                        .unwrap_or_default();
                    // As in ELB: a target enters slow start only when the group has it on and
                    // another target is healthy and past its own slow start.
                    let others_at_full = world.targets.get(&arn).is_some_and(|records| {
                        records.iter().any(|(k, r)| {
                            *k != key
                                && r.draining_until.is_none()
                                && r.health.phase == super::health::Phase::Healthy
                                && r.slow_start_since.is_none_or(|since| now - since >= slow_start)
                        })
                    });
                    if !slow_start.is_zero() && others_at_full {
                        if let Some(record) = world.targets.get_mut(&arn).and_then(|t| t.get_mut(&key)) {
                            record.slow_start_since = Some(now);
                        }
                    }
                }
            });
        }
    }
}

/// One health check of one target.
async fn probe(address: Option<SocketAddr>, check: &HealthCheck, timeout: Duration) -> Result<(), Failure> {
    let Some(address) = address else {
        // An instance id: not reachable from loopback.
        return Err(Failure::Failed);
    };
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(address).await.map_err(|_| Failure::Failed)?;
        if check.protocol != "HTTP" {
            // TCP checks pass once the port accepts; HTTPS ones too (no TLS in the emulator).
            return Ok(());
        }
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Failed)?;
        tokio::spawn(connection);
        let request = hyper::Request::get(&check.path)
            .header(hyper::header::HOST, address.to_string())
            .header(hyper::header::USER_AGENT, "ELB-HealthChecker/2.0")
            .body(Empty::<Bytes>::new())
            .map_err(|_| Failure::Failed)?;
        let response = sender.send_request(request).await.map_err(|_| Failure::Failed)?;
        let status = response.status().as_u16();
        if health::matches(&check.matcher, status) {
            Ok(())
        } else {
            Err(Failure::ResponseCodeMismatch(status))
        }
    };
    tokio::time::timeout(timeout, attempt).await.unwrap_or(Err(Failure::Timeout))
}
