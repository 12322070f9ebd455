//! Least privilege and secrets: the shipped IAM policy lists exactly the ELBv2, EC2 and STS actions
//! the controller's code calls, and the controller's most verbose logs never contain AWS credentials or
//! the Kubernetes bearer token. (The chart's RBAC is held to the same standard in `chart.rs`: the
//! controller runs under exactly the rules it grants.)

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use support::{wait_for, Env, Spec};

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// AWS operations called in the given source trees (recursively): the SDK's fluent builders
/// (`client.describe_target_health()`), named after the API action in snake case. A file that uses
/// the EC2 SDK calls EC2; the others call ELBv2.
fn operations_called(dirs: &[&Path]) -> BTreeSet<String> {
    let re =
        regex_lite::Regex::new(r"\.(describe|register|deregister|create|delete|modify|add|remove|set|authorize|revoke)_([a-z_0-9]+)\(\)")
            .unwrap();
    let mut out = BTreeSet::new();
    let mut pending: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let service = if text.contains("aws_sdk_ec2::") {
                    "ec2"
                } else {
                    "elasticloadbalancing"
                };
                // STS AssumeRole is called by the SDK's provider, not by a fluent builder.
                if text.contains("AssumeRoleProvider") {
                    out.insert("sts:AssumeRole".to_string());
                }
                for cap in re.captures_iter(&text) {
                    out.insert(format!("{service}:{}", pascal(&format!("{}_{}", &cap[1], &cap[2]))));
                }
            }
        }
    }
    out
}

#[test]
fn iam_policy_lists_exactly_the_actions_the_controller_calls() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let called = operations_called(&[&root.join("aws/src"), &root.join("controller/src")]);
    let policy: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.join("docs/iam-policy.json")).unwrap()).unwrap();
    let granted: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
        .collect();
    assert!(called.len() >= 9, "found only {called:?}");
    assert!(
        called.contains("ec2:AuthorizeSecurityGroupIngress"),
        "the scan reaches controller/src/networking: {called:?}"
    );
    let missing: Vec<_> = called.difference(&granted).collect();
    let excess: Vec<_> = granted.difference(&called).collect();
    assert!(missing.is_empty(), "docs/iam-policy.json lacks actions the code calls: {missing:?}");
    assert!(
        excess.is_empty(),
        "docs/iam-policy.json grants actions the code never calls: {excess:?}"
    );
}

#[tokio::test]
async fn trace_logs_hold_no_credentials_or_tokens() {
    const SECRET: &str = "tgbindSecretKey0000DoNotLogThis0000000000";
    const SESSION: &str = "tgbindSessionToken1111DoNotLogThis";
    let env = Env::start().await;
    let arn = env.target_group("secrets").await;
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.3.0.1", true)]).await;
    let controller = support::Controller::start(
        &env,
        "secrets",
        &[
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", SESSION),
            ("LOG_LEVEL", "trace"),
        ],
    );
    env.binding("b", Spec::ip("svc", 80, &arn)).await;
    env.wait_for_targets("registered", Duration::from_secs(20), &arn, &["10.3.0.1:8080"])
        .await;
    env.tgbs().delete("b", &Default::default()).await.unwrap();
    wait_for("deregistered", Duration::from_secs(20), || async {
        env.targets(&arn).await.is_empty()
    })
    .await;
    let logs = controller.logs();
    assert!(logs.len() > 10_000, "trace logging is on ({} bytes)", logs.len());
    for secret in [SECRET, SESSION, tgbind_testkit::apiserver::ADMIN_TOKEN] {
        assert!(!logs.contains(secret), "the controller logged a secret ({secret})");
    }
}
