//! The readiness-gate admission webhook against a real kube-apiserver: pods created in a namespace
//! labelled `elbv2.k8s.aws/pod-readiness-gate-inject=enabled` whose labels a binding's Service selects
//! get the binding's gate; other pods and other namespaces are left alone.

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{wait_for, Env, Spec, NS};
use tgbind_testkit::moto::free_port;

const GATE: &str = "target-health.elbv2.k8s.aws/web";

fn gates(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.condition_type)
        .collect()
}

async fn create_pod(env: &Env, namespace: &str, name: &str, app: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), namespace);
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": app } },
        "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1" }] },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap()
}

#[tokio::test]
async fn gates_are_injected_into_selected_pods_of_labelled_namespaces() {
    let env = Env::start().await;
    // The webhook's certificate, for 127.0.0.1 (the apiserver calls it by URL here).
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", "/CN=tgbind-webhook", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.path().join("tls.key"))
        .arg("-out")
        .arg(dir.path().join("tls.crt"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let port = free_port();
    let controller = support::Controller::start(
        &env,
        "webhook",
        &[
            ("WEBHOOK_ADDR", &format!("127.0.0.1:{port}")),
            ("WEBHOOK_CERT_DIR", dir.path().to_str().unwrap()),
        ],
    );
    wait_for("webhook listening", Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let ca = std::fs::read(dir.path().join("tls.crt")).unwrap();
    let config: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": { "name": "tgbind-pod-readiness-gate" },
        "webhooks": [{
            "name": "mpod.elbv2.k8s.aws",
            "clientConfig": { "url": format!("https://127.0.0.1:{port}/mutate-v1-pod"), "caBundle": k8s_openapi::ByteString(ca) },
            "rules": [{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] }],
            "namespaceSelector": { "matchLabels": { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } },
            "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
        }],
    }))
    .unwrap();
    Api::<MutatingWebhookConfiguration>::all(env.client.clone())
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } } })),
        )
        .await
        .unwrap();
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "plain" } })).unwrap(),
        )
        .await
        .unwrap();
    let arn = env.target_group("webhook").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.binding("web", Spec::ip("web", 80, &arn)).await;

    let selected = create_pod(&env, NS, "web-1", "web").await;
    assert_eq!(gates(&selected), vec![GATE.to_string()], "{:?}", controller.logs());
    let other = create_pod(&env, NS, "api-1", "api").await;
    assert!(gates(&other).is_empty());
    let elsewhere = create_pod(&env, "plain", "web-1", "web").await;
    assert!(gates(&elsewhere).is_empty(), "unlabelled namespace");
    assert!(controller.logs().contains("readiness gates injected"));
}
