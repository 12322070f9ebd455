//! Serving the listeners: each on a loopback port of its own. HTTP listeners pick a rule and an
//! action for each request (`routing`), then a target among the group's routable ones; TCP
//! listeners forward each connection to a target of the default action's group.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::model::TargetKey;
use super::routing::{self, Action, Candidate, TargetState};
use super::{Bound, Shared, World};

/// How long a target may take to answer before the client gets 504.
const TARGET_TIMEOUT: Duration = Duration::from_secs(30);
const GROUP_COOKIE: &str = "AWSALBTG";
const TARGET_COOKIE: &str = "AWSALB";

/// Starts serving every listener of the snapshot that is not served yet.
pub(super) fn bind_new(shared: &Arc<Shared>, world: &mut World) {
    for l in world.snapshot.listeners.clone() {
        if world.bound.contains_key(&l.arn) || !matches!(l.protocol.as_str(), "HTTP" | "HTTPS" | "TCP" | "TLS") {
            continue;
        }
        let socket = match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|s| {
            s.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("elb-dataplane: cannot serve {}: {e}", l.arn);
                continue;
            }
        };
        let address = socket.local_addr().expect("a bound socket has an address");
        let task = if l.routes_http() {
            tokio::spawn(serve_http(shared.clone(), l.arn.clone(), socket))
        } else {
            tokio::spawn(serve_tcp(shared.clone(), l.arn.clone(), socket))
        };
        world.bound.insert(
            l.arn.clone(),
            Bound {
                address,
                protocol: l.protocol.clone(),
                port: l.port,
                load_balancer_arn: l.load_balancer_arn.clone(),
                load_balancer_name: l.load_balancer_name.clone(),
                task: task.abort_handle(),
            },
        );
    }
}

async fn serve_http(shared: Arc<Shared>, listener_arn: String, socket: tokio::net::TcpListener) {
    loop {
        let Ok((stream, client)) = socket.accept().await else { continue };
        let (shared, listener_arn) = (shared.clone(), listener_arn.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (shared, listener_arn) = (shared.clone(), listener_arn.clone());
                async move { Ok::<_, Infallible>(route(&shared, &listener_arn, request, client).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve_tcp(shared: Arc<Shared>, listener_arn: String, socket: tokio::net::TcpListener) {
    loop {
        let Ok((mut inbound, _)) = socket.accept().await else { continue };
        let target = {
            let world = shared.world.lock().unwrap();
            let listener = world.snapshot.listeners.iter().find(|l| l.arn == listener_arn);
            let group = listener.and_then(|l| {
                l.rules.iter().find_map(|r| match &r.action {
                    Action::Forward { groups, .. } => routing::pick_group(groups, None, rand::random()).cloned(),
                    _ => None,
                })
            });
            group.and_then(|g| choose_target(&shared, &world, &g.arn, None).map(|(key, _)| key))
        };
        let Some(target) = target.and_then(|k| shared.address(&k, k.port)) else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// A target of the group for a new request or connection, and whether it came from stickiness.
fn choose_target(shared: &Shared, world: &World, group_arn: &str, sticky: Option<&TargetKey>) -> Option<(TargetKey, bool)> {
    let group = world.snapshot.groups.get(group_arn)?;
    let now = Instant::now();
    let slow_start = shared.scaled(group.slow_start);
    let candidates: Vec<Candidate<TargetKey>> = world
        .targets
        .get(group_arn)?
        .iter()
        .map(|(key, r)| Candidate {
            key: key.clone(),
            state: if r.draining_until.is_some() {
                TargetState::Draining
            } else if !group.health_check.enabled {
                TargetState::Healthy
            } else {
                match r.health.phase {
                    super::health::Phase::Initial => TargetState::Initial,
                    super::health::Phase::Healthy => TargetState::Healthy,
                    super::health::Phase::Unhealthy => TargetState::Unhealthy,
                }
            },
            slow_start_weight: r
                .slow_start_since
                .map(|since| routing::slow_start_weight(now - since, slow_start))
                .unwrap_or(1.0),
        })
        .collect();
    let picked = routing::pick_target(&candidates, sticky, rand::random())?;
    Some((picked.key.clone(), sticky == Some(&picked.key)))
}

fn cookie<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

fn plain(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, "text/plain; charset=utf-8".parse().unwrap());
    response
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2`, decoded.
pub(super) fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn route(shared: &Arc<Shared>, listener_arn: &str, request: Request<Incoming>, client: SocketAddr) -> Response<Full<Bytes>> {
    let host_header = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let seen = routing::Request {
        method: request.method().as_str().to_string(),
        host: host_header.rsplit_once(':').map(|(h, _)| h).unwrap_or(&host_header).to_string(),
        path: request.uri().path().to_string(),
        query: form_pairs(request.uri().query().unwrap_or_default()),
        headers: request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        source: client.ip(),
    };
    // Decide under the lock, forward without it.
    let decision = {
        let world = shared.world.lock().unwrap();
        let Some(listener) = world.snapshot.listeners.iter().find(|l| l.arn == listener_arn) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "listener gone");
        };
        let port = listener.port;
        let protocol = if listener.protocol == "HTTPS" { "https" } else { "http" };
        match routing::select(&listener.rules, &seen).map(|r| r.action.clone()) {
            None => return plain(StatusCode::NOT_FOUND, "no rule"),
            Some(Action::FixedResponse {
                status,
                content_type,
                body,
            }) => {
                let mut response = plain(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &body);
                if let Some(ct) = content_type.and_then(|c| c.parse().ok()) {
                    response.headers_mut().insert(hyper::header::CONTENT_TYPE, ct);
                }
                return response;
            }
            Some(Action::Redirect(r)) => {
                let location = routing::redirect_location(
                    &r,
                    protocol,
                    &seen.host,
                    port,
                    &seen.path,
                    request.uri().query().unwrap_or_default(),
                );
                let mut response = plain(StatusCode::from_u16(r.status).unwrap_or(StatusCode::MOVED_PERMANENTLY), "");
                if let Ok(location) = location.parse() {
                    response.headers_mut().insert(hyper::header::LOCATION, location);
                }
                return response;
            }
            Some(Action::NotEmulated(what)) => {
                return plain(StatusCode::NOT_IMPLEMENTED, &format!("{what} is not emulated"));
            }
            Some(Action::Forward { groups, stickiness }) => {
                let sticky_group = stickiness.and(cookie(&request, GROUP_COOKIE));
                let Some(group) = routing::pick_group(&groups, sticky_group, rand::random()) else {
                    return plain(StatusCode::SERVICE_UNAVAILABLE, "503 Service Temporarily Unavailable");
                };
                let target_stickiness = world.snapshot.groups.get(&group.arn).and_then(|g| g.stickiness);
                let sticky_target = target_stickiness.and(cookie(&request, TARGET_COOKIE)).and_then(|c| {
                    let (id, port) = c.rsplit_once(':')?;
                    Some(TargetKey {
                        id: id.to_string(),
                        port: port.parse().ok()?,
                    })
                });
                let Some((target, _)) = choose_target(shared, &world, &group.arn, sticky_target.as_ref()) else {
                    return plain(StatusCode::SERVICE_UNAVAILABLE, "503 Service Temporarily Unavailable");
                };
                let mut cookies = Vec::new();
                if let Some(d) = stickiness {
                    cookies.push(format!("{GROUP_COOKIE}={}; Max-Age={}; Path=/", group.arn, d.as_secs()));
                }
                if let Some(d) = target_stickiness {
                    cookies.push(format!("{TARGET_COOKIE}={target}; Max-Age={}; Path=/", d.as_secs()));
                }
                (target, cookies, protocol, port)
            }
        }
    };
    let (target, cookies, protocol, port) = decision;
    let mut response = forward(shared.address(&target, target.port), request, client.ip(), protocol, port).await;
    for c in cookies {
        if let Ok(v) = c.parse() {
            response.headers_mut().append(hyper::header::SET_COOKIE, v);
        }
    }
    response
}

/// Sends the request to the target and returns its answer, or 502/504 as ALB does.
async fn forward(
    address: Option<SocketAddr>,
    request: Request<Incoming>,
    client: IpAddr,
    protocol: &str,
    port: u16,
) -> Response<Full<Bytes>> {
    let Some(address) = address else {
        return plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway");
    };
    let (mut parts, body) = request.into_parts();
    let attempt = async move {
        let body = body.collect().await.map_err(|_| StatusCode::BAD_REQUEST)?.to_bytes();
        let forwarded_for = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {client}"),
            None => client.to_string(),
        };
        let headers = &mut parts.headers;
        headers.insert("x-forwarded-for", forwarded_for.parse().unwrap());
        headers.insert("x-forwarded-proto", protocol.parse().unwrap());
        headers.insert("x-forwarded-port", port.to_string().parse().unwrap());
        headers.remove(hyper::header::CONNECTION);
        let stream = tokio::net::TcpStream::connect(address).await.map_err(|_| StatusCode::BAD_GATEWAY)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| StatusCode::BAD_GATEWAY)?;
        tokio::spawn(connection);
        let response = sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|_| StatusCode::BAD_GATEWAY)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|_| StatusCode::BAD_GATEWAY)?.to_bytes();
        Ok::<_, StatusCode>(Response::from_parts(parts, Full::new(body)))
    };
    match tokio::time::timeout(TARGET_TIMEOUT, attempt).await {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => plain(status, status.canonical_reason().unwrap_or_default()),
        Err(_) => plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_pairs_decode_percent_and_plus() {
        assert_eq!(
            super::form_pairs("a=1%2F2&b=x+y&c&d=%"),
            [
                ("a".into(), "1/2".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "%".into())
            ]
        );
    }
}
