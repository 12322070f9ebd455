//! A load generator: requests at a fixed rate (each on a new connection, as many clients behind a
//! load balancer do), every answer recorded, so a test can tell exactly how many failed and who
//! answered. Requests go out on schedule whether or not earlier ones returned (an open model:
//! a slow or stuck target shows as latency and failures, not as a lower rate).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use crate::pods::background;

/// A request that takes longer than this failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was sent, from the start of the load.
    pub sent_at: Duration,
    pub latency: Duration,
    /// The answering pod's name, or what went wrong (`503`, `connection refused`, `timeout`).
    pub outcome: Result<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

impl Report {
    pub fn sent(&self) -> usize {
        self.samples.len()
    }

    pub fn failed(&self) -> usize {
        self.samples.iter().filter(|s| s.outcome.is_err()).count()
    }

    pub fn rate(&self) -> f64 {
        self.sent() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Latency at quantile `q` (0-1) of the successful requests.
    pub fn latency(&self, q: f64) -> Duration {
        let mut ok: Vec<Duration> = self.samples.iter().filter(|s| s.outcome.is_ok()).map(|s| s.latency).collect();
        ok.sort();
        if ok.is_empty() {
            return Duration::ZERO;
        }
        ok[((ok.len() - 1) as f64 * q).round() as usize]
    }

    /// How many requests each pod answered.
    pub fn answered_by(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for s in &self.samples {
            if let Ok(name) = &s.outcome {
                *by.entry(name.clone()).or_default() += 1;
            }
        }
        by
    }

    /// Failures by kind.
    pub fn failures(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for s in &self.samples {
            if let Err(e) = &s.outcome {
                *by.entry(e.clone()).or_default() += 1;
            }
        }
        by
    }

    /// One line: requests, rate, failures, p50 and p99.
    pub fn summary(&self) -> String {
        format!(
            "{} requests in {:.1} s ({:.0}/s), {} failed {:?}, p50 {:.1} ms, p99 {:.1} ms",
            self.sent(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.failed(),
            self.failures(),
            self.latency(0.50).as_secs_f64() * 1e3,
            self.latency(0.99).as_secs_f64() * 1e3,
        )
    }

    /// The samples sent in `[from, to)`.
    pub fn window(&self, from: Duration, to: Duration) -> Report {
        Report {
            samples: self
                .samples
                .iter()
                .filter(|s| s.sent_at >= from && s.sent_at < to)
                .cloned()
                .collect(),
            elapsed: to.saturating_sub(from),
        }
    }
}

/// Load running in the background until `stop`.
pub struct Load {
    started: Instant,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    sender: Option<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `rate` requests per second of `GET path` to `address`, with `host` as the Host header.
    pub fn start(address: SocketAddr, host: &str, path: &str, rate: u32) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let started = Instant::now();
        let sender = {
            let (stop, samples, host, path) = (stop.clone(), samples.clone(), host.to_string(), path.to_string());
            background().spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut in_flight = tokio::task::JoinSet::new();
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    let (samples, host, path) = (samples.clone(), host.clone(), path.clone());
                    in_flight.spawn(async move {
                        let sent = Instant::now();
                        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, get(address, &host, &path))
                            .await
                            .unwrap_or_else(|_| Err("timeout".into()));
                        samples.lock().unwrap().push(Sample {
                            sent_at: sent - started,
                            latency: sent.elapsed(),
                            outcome,
                        });
                    });
                    while in_flight.try_join_next().is_some() {}
                }
                while in_flight.join_next().await.is_some() {}
            })
        };
        Load {
            started,
            stop,
            samples,
            sender: Some(sender),
        }
    }

    /// What has come back so far.
    pub fn so_far(&self) -> Report {
        let mut samples = self.samples.lock().unwrap().clone();
        samples.sort_by_key(|s| s.sent_at);
        Report {
            samples,
            elapsed: self.started.elapsed(),
        }
    }

    /// Stops sending, waits for the requests in flight, and reports.
    pub async fn stop(mut self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        if let Some(sender) = self.sender.take() {
            let _ = sender.await;
        }
        Report { elapsed, ..self.so_far() }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One request on a new connection: the answering pod's name, or why it failed.
pub async fn get(address: SocketAddr, host: &str, path: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
    if status.is_success() {
        Ok(String::from_utf8_lossy(&body).trim().to_string())
    } else {
        Err(status.as_u16().to_string())
    }
}
