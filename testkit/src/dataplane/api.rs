//! The API side: every request passes through to moto unchanged; after a successful ELBv2 write
//! the data plane takes in the new configuration before answering (so a listener is served and a
//! new target is `initial` by the time the caller hears back), `DeregisterTargets` starts a drain,
//! and `DescribeTargetHealth` is answered from the health checks, not moto's fixed `healthy`.
//! `GET /dataplane/listeners` and `GET /dataplane/targets` tell what is served.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::listeners::form_pairs;
use super::model::TargetKey;
use super::Shared;

const ELBV2_VERSION: &str = "2015-12-01";

pub(super) async fn serve(shared: Arc<Shared>, socket: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = socket.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, content_type.parse().unwrap());
    response
}

async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() == hyper::Method::GET {
        match request.uri().path() {
            "/dataplane/listeners" => return respond(StatusCode::OK, "application/json", listeners_json(shared)),
            "/dataplane/targets" => return respond(StatusCode::OK, "application/json", targets_json(shared)),
            _ => {}
        }
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return respond(StatusCode::BAD_REQUEST, "text/plain", "unreadable body".into());
    };
    let form = std::str::from_utf8(&body).map(form_pairs).unwrap_or_default();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let action = (field("Version") == Some(ELBV2_VERSION))
        .then(|| field("Action"))
        .flatten()
        .map(str::to_string);
    let upstream = match pass_through(shared, parts, body.clone()).await {
        Ok(response) => response,
        Err(e) => return respond(StatusCode::BAD_GATEWAY, "text/plain", format!("upstream: {e}")),
    };
    let Some(action) = action.filter(|_| upstream.status().is_success()) else {
        return upstream;
    };
    let group = field("TargetGroupArn").unwrap_or_default().to_string();
    let targets = targets_in(&form);
    let result = match action.as_str() {
        "DescribeTargetHealth" => {
            if !shared.world.lock().unwrap().snapshot.groups.contains_key(&group) {
                let _ = shared.refresh().await;
            }
            return respond(StatusCode::OK, "text/xml", target_health_xml(shared, &group, &targets));
        }
        "RegisterTargets" => {
            if let Some(records) = shared.world.lock().unwrap().targets.get_mut(&group) {
                for (id, port) in &targets {
                    records.retain(|k, r| !(k.id == *id && port.is_none_or(|p| i32::from(p) == k.port) && r.draining_until.is_some()));
                }
            }
            shared.refresh_group(&group).await
        }
        "DeregisterTargets" => {
            start_draining(shared, &group, &targets);
            shared.refresh_group(&group).await
        }
        a if a.starts_with("Describe") => Ok(()),
        _ => shared.refresh().await,
    };
    if let Err(e) = result {
        eprintln!("elb-dataplane: refresh after {action}: {e}");
    }
    upstream
}

/// The `Targets.member.N.Id` / `.Port` of a request.
fn targets_in(form: &[(String, String)]) -> Vec<(String, Option<u16>)> {
    let mut by_index: BTreeMap<u32, (String, Option<u16>)> = BTreeMap::new();
    for (k, v) in form {
        let Some(rest) = k.strip_prefix("Targets.member.") else { continue };
        let Some((n, field)) = rest.split_once('.') else { continue };
        let Ok(n) = n.parse() else { continue };
        let entry = by_index.entry(n).or_default();
        match field {
            "Id" => entry.0 = v.clone(),
            "Port" => entry.1 = v.parse().ok(),
            _ => {}
        }
    }
    by_index.into_values().collect()
}

fn start_draining(shared: &Shared, group: &str, targets: &[(String, Option<u16>)]) {
    let mut world = shared.world.lock().unwrap();
    let Some(delay) = world.snapshot.groups.get(group).map(|g| shared.scaled(g.deregistration_delay)) else {
        return;
    };
    let until = Instant::now() + delay;
    if let Some(records) = world.targets.get_mut(group) {
        for (key, record) in records.iter_mut() {
            if targets
                .iter()
                .any(|(id, port)| key.id == *id && port.is_none_or(|p| i32::from(p) == key.port))
            {
                record.draining_until = Some(until);
            }
        }
    }
}

async fn pass_through(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(shared.upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `DescribeTargetHealth`'s answer from what the checks saw: every target of the group, or the
/// asked ones (a target not registered is `unused`, `Target.NotRegistered`).
fn target_health_xml(shared: &Shared, group: &str, asked: &[(String, Option<u16>)]) -> String {
    let world = shared.world.lock().unwrap();
    let records = world.targets.get(group);
    let health_check_port = world.snapshot.groups.get(group).and_then(|g| g.health_check.port);
    let mut members = String::new();
    let mut member = |key: &TargetKey, state: &str, reason: Option<(&str, String)>| {
        let hc_port = health_check_port.map_or(key.port, i32::from);
        members.push_str(&format!(
            "<member><HealthCheckPort>{hc_port}</HealthCheckPort><Target><Id>{}</Id><Port>{}</Port></Target><TargetHealth><State>{state}</State>",
            escape(&key.id),
            key.port
        ));
        if let Some((code, description)) = reason {
            members.push_str(&format!(
                "<Reason>{code}</Reason><Description>{}</Description>",
                escape(&description)
            ));
        }
        members.push_str("</TargetHealth></member>");
    };
    if asked.is_empty() {
        for (key, record) in records.into_iter().flatten() {
            let (state, reason) = world.reported(group, record);
            member(key, state, reason);
        }
    } else {
        let default_port = world.snapshot.groups.get(group).and_then(|g| g.port).unwrap_or(0);
        for (id, port) in asked {
            let known: Vec<_> = records
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.id == *id && port.is_none_or(|p| i32::from(p) == k.port))
                .collect();
            if known.is_empty() {
                let key = TargetKey {
                    id: id.clone(),
                    port: i32::from(port.unwrap_or(default_port)),
                };
                member(
                    &key,
                    "unused",
                    Some(("Target.NotRegistered", "Target is not registered to the target group".into())),
                );
            }
            for (key, record) in known {
                let (state, reason) = world.reported(group, record);
                member(key, state, reason);
            }
        }
    }
    format!(
        "<DescribeTargetHealthResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/{ELBV2_VERSION}/\">\
         <DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions></DescribeTargetHealthResult>\
         <ResponseMetadata><RequestId>elb-dataplane</RequestId></ResponseMetadata></DescribeTargetHealthResponse>"
    )
}

fn listeners_json(shared: &Shared) -> String {
    let world = shared.world.lock().unwrap();
    let listeners: Vec<serde_json::Value> = world
        .bound
        .iter()
        .map(|(arn, b)| {
            serde_json::json!({
                "listener_arn": arn,
                "load_balancer_arn": b.load_balancer_arn,
                "load_balancer_name": b.load_balancer_name,
                "protocol": b.protocol,
                "port": b.port,
                "address": b.address.to_string(),
            })
        })
        .collect();
    serde_json::Value::Array(listeners).to_string()
}

fn targets_json(shared: &Shared) -> String {
    let world = shared.world.lock().unwrap();
    let groups: serde_json::Map<String, serde_json::Value> = world
        .targets
        .iter()
        .map(|(arn, records)| {
            let targets: Vec<serde_json::Value> = records
                .iter()
                .map(|(key, record)| {
                    let (state, reason) = world.reported(arn, record);
                    serde_json::json!({"id": key.id, "port": key.port, "state": state, "reason": reason.map(|r| r.0)})
                })
                .collect();
            (arn.clone(), serde_json::Value::Array(targets))
        })
        .collect();
    serde_json::Value::Object(groups).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_of_a_query_request_keep_their_member_order() {
        let form = super::form_pairs(
            "Action=DeregisterTargets&Targets.member.2.Id=10.0.0.2&Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=8080",
        );
        assert_eq!(
            super::targets_in(&form),
            [("10.0.0.1".to_string(), Some(8080)), ("10.0.0.2".to_string(), None)]
        );
    }
}
