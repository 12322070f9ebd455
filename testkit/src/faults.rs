//! A loopback HTTP proxy in front of moto that injects AWS faults at set rates: throttling errors
//! (`Throttling`, `ThrottlingException`), 503s, added latency, dropped connections, and a
//! non-retryable `AccessDenied` for everything once switched on (a hard failure mid-run). Requests
//! that reach moto are recorded, so tests can check exactly which writes AWS received.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Fault rates, each the probability (0.0-1.0) that a request gets it.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub throttle: f64,
    pub server_error: f64,
    pub drop: f64,
    pub latency: Duration,
    /// Every request is refused with 403 AccessDenied (not retried by the SDK).
    pub deny_all: bool,
    /// Requests for these actions (`Action=` of a query request, e.g. `AssumeRole`) are refused
    /// with 403 AccessDenied; the others pass.
    pub deny_actions: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub dropped: AtomicU64,
    pub denied: AtomicU64,
    pub forwarded: AtomicU64,
}

struct Shared {
    faults: Mutex<Faults>,
    counts: Counts,
    forwarded_bodies: Mutex<Vec<String>>,
    rng: Mutex<u64>,
    upstream: u16,
}

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            counts: Counts::default(),
            forwarded_bodies: Mutex::new(Vec::new()),
            rng: Mutex::new(seed),
            upstream,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(conn, &shared));
                }
            })
        };
        FaultProxy {
            port,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    /// Bodies of the requests moto received (form-encoded query requests).
    pub fn forwarded_bodies(&self) -> Vec<String> {
        self.shared.forwarded_bodies.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    /// Uniform in [0, 1) (xorshift; tests need rates, not cryptography).
    fn roll(&self) -> f64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Reads one HTTP request: (head, body). `None` at end of stream.
fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// An error answer in the requesting service's own format: EC2 has its own (and throttles with
/// `RequestLimitExceeded`); ELBv2 and STS share the query protocol's.
fn error_response(status: &str, code: &str, body_of_request: &[u8]) -> Vec<u8> {
    let body = if ec2_request(body_of_request) {
        let code = if code.starts_with("Throttling") {
            "RequestLimitExceeded"
        } else {
            code
        };
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>injected by the fault proxy</Message></Error></Errors>\
             <RequestID>fault-proxy</RequestID></Response>"
        )
    } else {
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>injected by the fault proxy</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ec2_request(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|b| b.split('&').any(|p| p == "Version=2016-11-15"))
}

/// The `Action` of a form-encoded query request (ELB, EC2 and STS all use them).
fn action_of(body: &[u8]) -> Option<&str> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| pair.strip_prefix("Action="))
}

/// One request per connection: answer it (fault or moto's answer) and close.
fn serve(mut conn: TcpStream, shared: &Shared) {
    let Some((head, body)) = read_request(&mut conn) else { return };
    let faults = shared.faults.lock().unwrap().clone();
    if !faults.latency.is_zero() {
        std::thread::sleep(faults.latency);
    }
    let c = &shared.counts;
    let action = action_of(&body);
    if faults.deny_all || action.is_some_and(|a| faults.deny_actions.iter().any(|d| *d == a)) {
        c.denied.fetch_add(1, Ordering::Relaxed);
        let _ = conn.write_all(&error_response("403 Forbidden", "AccessDenied", &body));
        return;
    }
    if shared.roll() < faults.drop {
        c.dropped.fetch_add(1, Ordering::Relaxed);
        let _ = conn.shutdown(Shutdown::Both);
        return;
    }
    if shared.roll() < faults.throttle {
        let n = c.throttled.fetch_add(1, Ordering::Relaxed);
        let code = if n.is_multiple_of(2) { "Throttling" } else { "ThrottlingException" };
        let _ = conn.write_all(&error_response(
            if ec2_request(&body) {
                "503 Service Unavailable"
            } else {
                "400 Bad Request"
            },
            code,
            &body,
        ));
        return;
    }
    if shared.roll() < faults.server_error {
        c.server_errors.fetch_add(1, Ordering::Relaxed);
        let _ = conn.write_all(&error_response("503 Service Unavailable", "ServiceUnavailable", &body));
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", shared.upstream)) else {
        let _ = conn.shutdown(Shutdown::Both);
        return;
    };
    // One request per upstream connection too: moto answers and closes.
    let mut head: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head.push("Connection: close");
    let request = format!("{}\r\n\r\n", head.join("\r\n"));
    if upstream
        .write_all(request.as_bytes())
        .and_then(|_| upstream.write_all(&body))
        .is_err()
    {
        return;
    }
    // Recorded once sent, before moto answers: a test that sees the effect in moto (and so stops
    // waiting) must also find the request here.
    c.forwarded.fetch_add(1, Ordering::Relaxed);
    shared
        .forwarded_bodies
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    // Tell the client this connection ends here, so it never reuses it.
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines: Vec<&str> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let _ = conn.write_all(lines.join("\r\n").as_bytes());
    let _ = conn.write_all(&response[split..]);
}
