//! The optional mutating admission webhook that adds readiness gates to new pods: a pod created in a
//! namespace the webhook configuration selects (label `elbv2.k8s.aws/pod-readiness-gate-inject=enabled`)
//! gets `target-health.elbv2.k8s.aws/<binding>` for every ip-target binding in its namespace whose
//! Service selects it. Served over TLS by every replica (leader or not); it reads bindings and
//! Services from the API per request, so it needs no cache and no leadership.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::Api;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube::core::DynamicObject;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{info, warn};

use crate::crd::{TargetGroupBinding, TargetType};
use crate::readiness::gate_type;

/// The namespace label that opts pods in (the AWS Load Balancer Controller's key).
pub const INJECT_LABEL: &str = "elbv2.k8s.aws/pod-readiness-gate-inject";
pub const PATH: &str = "/mutate-v1-pod";

/// Whether a Service's selector selects a pod's labels (an empty selector selects nothing, as for
/// endpoints).
pub fn service_selects(service: &Service, pod: &Pod) -> bool {
    let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    selector.is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The JSON patch adding `gates` to the pod (those it lacks), or `None` when there is nothing to add.
pub fn gate_patch(pod: &Pod, gates: &[String]) -> Option<Patch> {
    let existing: Vec<&str> = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .map(|g| g.iter().map(|g| g.condition_type.as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<&String> = gates.iter().filter(|g| !existing.contains(&g.as_str())).collect();
    if missing.is_empty() {
        return None;
    }
    let gate = |g: &String| serde_json::json!({ "conditionType": g });
    let has_list = pod.spec.as_ref().is_some_and(|s| s.readiness_gates.is_some());
    let ops = if has_list {
        missing
            .iter()
            .map(|g| {
                PatchOperation::Add(AddOperation {
                    path: PointerBuf::from_tokens(["spec", "readinessGates", "-"]),
                    value: gate(g),
                })
            })
            .collect()
    } else {
        vec![PatchOperation::Add(AddOperation {
            path: PointerBuf::from_tokens(["spec", "readinessGates"]),
            value: serde_json::Value::Array(missing.iter().map(|g| gate(g)).collect()),
        })]
    };
    Some(Patch(ops))
}

/// The gates a new pod in `namespace` should carry.
async fn gates_for(client: &kube::Client, namespace: &str, pod: &Pod) -> Result<Vec<String>, kube::Error> {
    let bindings: Api<TargetGroupBinding> = Api::namespaced(client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let mut gates = Vec::new();
    for tgb in bindings.list(&Default::default()).await?.items {
        if crate::bound::known_target_type(&tgb) != Some(TargetType::Ip) || tgb.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(service) = services.get_opt(&tgb.spec.service_ref.name).await? {
            if service_selects(&service, pod) {
                gates.push(gate_type(tgb.metadata.name.as_deref().unwrap_or_default()));
            }
        }
    }
    gates.sort();
    gates.dedup();
    Ok(gates)
}

/// Answers one AdmissionReview. Never denies a pod: when anything goes wrong the pod is admitted
/// unchanged (and the failure logged), like `failurePolicy: Ignore`.
async fn mutate(State(client): State<kube::Client>, Json(review): Json<AdmissionReview<Pod>>) -> Json<AdmissionReview<DynamicObject>> {
    let request: AdmissionRequest<Pod> = match review.try_into() {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "malformed AdmissionReview");
            return Json(AdmissionResponse::invalid(e.to_string()).into_review());
        }
    };
    let response = AdmissionResponse::from(&request);
    let (Some(pod), Some(namespace)) = (request.object.as_ref(), request.namespace.as_deref()) else {
        return Json(response.into_review());
    };
    let gates = match gates_for(&client, namespace, pod).await {
        Ok(g) => g,
        Err(e) => {
            warn!(error = %e, namespace, "could not look up bindings; admitting the pod without gates");
            return Json(response.into_review());
        }
    };
    let Some(patch) = gate_patch(pod, &gates) else {
        return Json(response.into_review());
    };
    match response.clone().with_patch(patch) {
        Ok(patched) => {
            info!(namespace, pod = pod.metadata.name.as_deref().or(pod.metadata.generate_name.as_deref()).unwrap_or_default(), gates = ?gates, "readiness gates injected");
            Json(patched.into_review())
        }
        Err(e) => {
            warn!(error = %e, "could not encode the patch");
            Json(response.into_review())
        }
    }
}

/// Serves the webhook on `addr` with the PEM certificate chain and key in `cert` and `key`.
pub async fn serve(addr: SocketAddr, cert: &Path, key: &Path, client: kube::Client) -> anyhow::Result<()> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let app = Router::new().route(PATH, post(mutate)).with_state(client);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    info!(%addr, path = PATH, "admission webhook serving");
    loop {
        let (tcp, _) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodReadinessGate, PodSpec, ServiceSpec};

    fn pod(labels: &[(&str, &str)], gates: Option<&[&str]>) -> Pod {
        let mut p = Pod::default();
        p.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        p.spec = Some(PodSpec {
            readiness_gates: gates.map(|g| {
                g.iter()
                    .map(|c| PodReadinessGate {
                        condition_type: c.to_string(),
                    })
                    .collect()
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn services_select_by_their_whole_selector() {
        let svc = Service {
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(service_selects(&svc, &pod(&[("app", "web"), ("tier", "1")], None)));
        assert!(!service_selects(&svc, &pod(&[("app", "api")], None)));
        assert!(!service_selects(&Service::default(), &pod(&[("app", "web")], None)));
    }

    #[test]
    fn patches_add_only_missing_gates() {
        let gates = vec![gate_type("a"), gate_type("b")];
        let fresh = serde_json::to_value(gate_patch(&pod(&[], None), &gates).unwrap()).unwrap();
        assert_eq!(fresh[0]["path"], "/spec/readinessGates");
        assert_eq!(fresh[0]["value"].as_array().unwrap().len(), 2);
        let some = serde_json::to_value(gate_patch(&pod(&[], Some(&["target-health.elbv2.k8s.aws/a"])), &gates).unwrap()).unwrap();
        assert_eq!(some.as_array().unwrap().len(), 1);
        assert_eq!(some[0]["path"], "/spec/readinessGates/-");
        assert!(gate_patch(
            &pod(&[], Some(&["target-health.elbv2.k8s.aws/a", "target-health.elbv2.k8s.aws/b"])),
            &gates
        )
        .is_none());
    }
}
