//! The corpus of invalid TargetGroupBindings in `tests/corpus/bindings/`: each file says what must
//! happen (`# expect: rejected` by the API server's schema, or the Ready reason the controller
//! gives). All of them are applied next to a healthy binding, whose targets must never change; the
//! controller must not exit or panic; deleting them must not touch the healthy group.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use support::{corpus, set, wait_for, Env, Spec, NS};

/// (file name, expectation, object) for every corpus file. `MISSING_ARN` becomes a well-formed ARN
/// of a group that does not exist, `IP_ARN` and `INSTANCE_ARN` new groups for ip and instance
/// targets, one per file (two bindings naming one group are a conflict of their own).
async fn corpus(env: &Env, good_arn: &str) -> Vec<(String, String, serde_json::Value)> {
    let cel = corpus::enforces_cel(&env.client).await;
    let mut out = Vec::new();
    for case in corpus::read("bindings") {
        let n = &case.file[..2];
        let missing = format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing-{n}/0123456789abcdef");
        let mut replacements = vec![("GOOD_ARN", good_arn.to_string()), ("MISSING_ARN", missing)];
        if case.text.contains("IP_ARN") {
            replacements.push(("IP_ARN", env.target_group(&format!("ip-{n}")).await));
        }
        if case.text.contains("INSTANCE_ARN") {
            replacements.push(("INSTANCE_ARN", env.instance_target_group(&format!("instance-{n}")).await));
        }
        let object = case.objects(&replacements).pop().unwrap();
        out.push((case.file.clone(), case.expect(cel).to_string(), object));
    }
    out
}

#[tokio::test]
async fn every_invalid_binding_gets_a_clear_answer_and_disturbs_nothing() {
    let env = Env::start().await;
    let good_arn = env.target_group("good").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.40.0.1", true), ("10.40.0.2", true)])
        .await;
    let mut controller = env.controller("corpus");
    env.binding("good", Spec::ip("web", 80, &good_arn)).await;
    let healthy = set(&["10.40.0.1:8080", "10.40.0.2:8080"]);
    wait_for("the good binding registered", Duration::from_secs(20), || async {
        env.targets(&good_arn).await == healthy
    })
    .await;

    let cases = corpus(&env, &good_arn).await;
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"));
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), NS, &ar);
    let mut awaiting: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (file, expect, obj) in &cases {
        let obj: DynamicObject = serde_json::from_value(obj.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let created = api.create(&PostParams::default(), &obj).await;
        if expect == "rejected" {
            let err = created.err().unwrap_or_else(|| panic!("{file}: the API server accepted it"));
            assert!(
                matches!(&err, kube::Error::Api(e) if (400..500).contains(&e.code)),
                "{file}: rejected, but not as invalid input: {err}"
            );
        } else {
            let name = created
                .unwrap_or_else(|e| panic!("{file}: rejected by the API server: {e}"))
                .metadata
                .name
                .unwrap();
            awaiting.insert(name, (file.clone(), expect.clone()));
        }
    }
    for (name, (file, expect)) in &awaiting {
        wait_for(&format!("{file}: Ready reason {expect}"), Duration::from_secs(20), || async {
            env.ready(name).await.is_some_and(|(_, reason)| &reason == expect)
        })
        .await;
    }
    // The healthy binding is untouched, and stays so when every bad one is deleted.
    assert_eq!(env.targets(&good_arn).await, healthy);
    assert_eq!(env.ready("good").await, Some(("True".into(), "Synced".into())));
    for name in awaiting.keys() {
        env.tgbs().delete(name, &Default::default()).await.unwrap();
    }
    wait_for("bad bindings deleted", Duration::from_secs(20), || async {
        let left = env.tgbs().list(&Default::default()).await.unwrap();
        left.items.len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.targets(&good_arn).await,
        healthy,
        "deleting a bad binding touched the healthy group"
    );
    assert!(controller.child.try_wait().unwrap().is_none(), "the controller exited");
    let logs = controller.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    controller.kill();
    eprintln!(
        "{} corpus bindings: {} rejected by the API server, {} refused by the controller",
        cases.len(),
        cases.len() - awaiting.len(),
        awaiting.len()
    );
}
