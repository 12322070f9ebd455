//! `targetType: instance` on a real kube-apiserver with moto: the nodes that may serve (Ready, not
//! excluded, not being removed by cluster-autoscaler or Karpenter, matching `nodeSelector`) are
//! registered by instance ID at the Service's NodePort, and node changes move them in and out.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use support::{wait_for, Env, Spec};

fn targets(instances: &[&str], port: i32) -> BTreeSet<String> {
    instances.iter().map(|i| format!("{i}:{port}")).collect()
}

#[tokio::test]
async fn eligible_nodes_are_registered_at_the_node_port_and_follow_node_changes() {
    let env = Env::start().await;
    let arn = env.instance_target_group("instances").await;
    let node_port = env.node_port_service("web", 80).await;
    env.node("web-1", "i-0000000000000001", &[("role", "web")], None, true).await;
    env.node("web-2", "i-0000000000000002", &[("role", "web")], None, true).await;
    env.node("db-1", "i-0000000000000003", &[("role", "db")], None, true).await;
    env.node(
        "web-excluded",
        "i-0000000000000004",
        &[("role", "web"), ("node.kubernetes.io/exclude-from-external-load-balancers", "")],
        None,
        true,
    )
    .await;
    env.node(
        "web-scaling-down",
        "i-0000000000000005",
        &[("role", "web")],
        Some("ToBeDeletedByClusterAutoscaler"),
        true,
    )
    .await;
    env.node(
        "web-disrupted",
        "i-0000000000000006",
        &[("role", "web")],
        Some("karpenter.sh/disruption"),
        true,
    )
    .await;
    env.node("web-not-ready", "i-0000000000000007", &[("role", "web")], None, false)
        .await;
    let controller = env.controller("instances");
    env.binding(
        "web",
        Spec::instance("web", 80, &arn).with("nodeSelector", json!({ "matchLabels": { "role": "web" } })),
    )
    .await;
    wait_for("eligible web nodes registered", Duration::from_secs(20), || async {
        env.targets(&arn).await == targets(&["i-0000000000000001", "i-0000000000000002"], node_port)
    })
    .await;
    // The status is written after the registration: wait for it rather than race it.
    wait_for("Ready", Duration::from_secs(10), || async {
        env.ready("web").await == Some(("True".into(), "Synced".into()))
    })
    .await;

    // A node turns Ready, another stops being Ready, a third is relabelled into the selector.
    env.node_ready("web-not-ready", true).await;
    env.node_ready("web-2", false).await;
    env.node("db-1", "i-0000000000000003", &[("role", "web")], None, true).await;
    wait_for("node changes followed", Duration::from_secs(20), || async {
        env.targets(&arn).await == targets(&["i-0000000000000001", "i-0000000000000003", "i-0000000000000007"], node_port)
    })
    .await;
    // Out of the selector again.
    env.node("db-1", "i-0000000000000003", &[("role", "db")], None, true).await;
    wait_for("relabelled node removed", Duration::from_secs(20), || async {
        env.targets(&arn).await == targets(&["i-0000000000000001", "i-0000000000000007"], node_port)
    })
    .await;
    assert!(!controller.logs().contains("panicked"));
}

#[tokio::test]
async fn a_service_without_node_ports_keeps_targets_and_says_why() {
    let env = Env::start().await;
    let arn = env.instance_target_group("no-nodeport").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.node("web-1", "i-0000000000000001", &[], None, true).await;
    let _controller = env.controller("no-nodeport");
    env.binding("web", Spec::instance("web", 80, &arn)).await;
    wait_for("PortNotFound with the reason", Duration::from_secs(20), || async {
        let tgb = env.tgbs().get("web").await.unwrap();
        let ready = tgb.status.and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"));
        ready.is_some_and(|c| c.reason == "PortNotFound" && c.message.contains("nodePort"))
    })
    .await;
    assert!(env.targets(&arn).await.is_empty());
}
