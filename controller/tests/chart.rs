//! The Helm chart: its CRD is the controller's, it lints strictly and renders valid manifests, and
//! the controller does its whole job under exactly the RBAC the chart grants.

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery};
use serde_json::json;
use support::{set, wait_for, Env, Spec, NS};
use tgbind_testkit::moto::venv;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/tgbind-controller");
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");

#[test]
fn chart_crd_is_the_controllers_crd() {
    let shipped = std::fs::read_to_string(format!("{CHART}/crds/targetgroupbindings.yaml")).unwrap();
    assert_eq!(
        shipped,
        tgbind_controller::crd::crd_yaml(),
        "regenerate with: tgbind-controller crd > charts/tgbind-controller/crds/targetgroupbindings.yaml"
    );
}

/// Chart version, appVersion (the default image tag) and the controller crate move together.
#[test]
fn chart_versions_are_the_controllers() {
    let chart = std::fs::read_to_string(format!("{CHART}/Chart.yaml")).unwrap();
    let chart: serde_yaml::Value = serde_yaml::from_str(&chart).unwrap();
    let crate_version = env!("CARGO_PKG_VERSION");
    assert_eq!(chart["version"].as_str(), Some(crate_version), "Chart.yaml version");
    assert_eq!(chart["appVersion"].as_str(), Some(crate_version), "Chart.yaml appVersion");
}

#[test]
fn chart_lints_strictly_and_renders_valid_manifests() {
    let out = Command::new(venv().join("bin/python"))
        .arg(format!("{SCRIPTS}/check-chart.py"))
        .output()
        .expect("run check-chart.py");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("chart checks passed"), "{text}");
}

fn render_chart(values: serde_json::Value) -> Vec<serde_json::Value> {
    let out = Command::new(venv().join("bin/python"))
        .arg(format!("{SCRIPTS}/render-chart.py"))
        .arg(values.to_string())
        .arg(NS)
        .output()
        .expect("render chart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn controller_works_under_exactly_the_charts_rbac() {
    const TOKEN: &str = tgbind_testkit::secrets::SERVICE_ACCOUNT_TOKEN;
    let env = Env::start_with_users(&[(TOKEN, &format!("system:serviceaccount:{NS}:tgbind"), "system:serviceaccounts")]).await;
    let docs = render_chart(json!({ "serviceAccount": { "create": false, "name": "tgbind" } }));
    let discovery = Discovery::new(env.client.clone()).run().await.unwrap();
    let mut applied = 0;
    for doc in docs
        .iter()
        .filter(|d| d["apiVersion"].as_str().unwrap().starts_with("rbac.authorization.k8s.io"))
    {
        let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
        let (ar, _): (ApiResource, _) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap()))
            .unwrap();
        let obj: DynamicObject = serde_json::from_value(doc.clone()).unwrap();
        let api: Api<DynamicObject> = if doc["metadata"]["namespace"].is_string() {
            Api::namespaced_with(env.client.clone(), NS, &ar)
        } else {
            Api::all_with(env.client.clone(), &ar)
        };
        api.patch(
            &obj.metadata.name.clone().unwrap(),
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap();
        applied += 1;
    }
    assert_eq!(applied, 4, "ClusterRole, ClusterRoleBinding, Role, RoleBinding");

    let kubeconfig = env.api.dir.path().join("sa-kubeconfig");
    std::fs::write(&kubeconfig, env.api.kubeconfig(TOKEN)).unwrap();
    let arn = env.target_group("rbac").await;
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.7.0.1", true)]).await;
    let c = support::Controller::start(&env, "rbac", &[("KUBECONFIG", kubeconfig.to_str().unwrap())]);
    env.binding("rbac", Spec::ip("svc", 80, &arn)).await;
    env.wait_for_targets(
        "registered under the chart's RBAC",
        Duration::from_secs(20),
        &arn,
        &["10.7.0.1:8080"],
    )
    .await;
    wait_for("status written", Duration::from_secs(10), || async {
        env.ready("rbac").await == Some(("True".into(), "Synced".into()))
    })
    .await;
    // A pod waiting on the binding's readiness gate: read, registered, condition set.
    let gate = "target-health.elbv2.k8s.aws/rbac";
    env.pod("gated", "10.7.0.2", Some(gate), true, false).await;
    env.slice_of_pods("svc-b", "svc", 8080, &[("10.7.0.2", "gated", false, false)])
        .await;
    wait_for("gate set under the chart's RBAC", Duration::from_secs(20), || async {
        env.pod_condition("gated", gate).await.is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(env.targets(&arn).await, set(&["10.7.0.1:8080", "10.7.0.2:8080"]));
    // A multi-cluster binding also writes and deletes its ownership ConfigMap.
    let shared = env.target_group("rbac-shared").await;
    env.binding("rbac-multi", Spec::ip("svc", 80, &shared).with("multiClusterTargetGroup", true))
        .await;
    let records: Api<ConfigMap> = Api::namespaced(env.client.clone(), NS);
    wait_for(
        "ownership record written under the chart's RBAC",
        Duration::from_secs(20),
        || async {
            records.get_opt("aws-lbc-targets-rbac-multi").await.unwrap().is_some() && env.targets(&shared).await == set(&["10.7.0.1:8080"])
        },
    )
    .await;
    for name in ["rbac", "rbac-multi"] {
        env.tgbs().delete(name, &Default::default()).await.unwrap();
        wait_for("finalizer removed", Duration::from_secs(10), || async {
            env.tgbs().get_opt(name).await.unwrap().is_none()
        })
        .await;
    }
    assert!(
        records.get_opt("aws-lbc-targets-rbac-multi").await.unwrap().is_none(),
        "record left behind"
    );
    let logs = c.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the chart's RBAC lacks a permission:\n{logs}"
    );
}
