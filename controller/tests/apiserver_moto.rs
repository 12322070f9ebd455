//! tgbind-controller against a real kube-apiserver (built from Debian's sources) and moto_server.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::{set, wait_for, Env, Spec, NS};
use tgbind_controller::crd::{TargetGroupBinding, FINALIZER};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn reference_manifest_applies_unchanged() {
    let env = Env::start().await;
    Api::<Namespace>::all(env.client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some("app-namespace".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let manifest = r#"
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata:
  namespace: app-namespace
  name: app-tgb
spec:
  serviceRef:
    name: service-name
    port: 80
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app-tg/0123456789abcdef
  targetType: ip
  networking:
    ingress:
    - from:
      - securityGroup:
          groupID: sg-0123456789abcdef0
      ports:
      - protocol: TCP
"#;
    let obj: TargetGroupBinding = serde_yaml::from_str(manifest).unwrap();
    let created = Api::<TargetGroupBinding>::namespaced(env.client.clone(), "app-namespace")
        .create(&PostParams::default(), &obj)
        .await
        .expect("the reference manifest applies");
    assert_eq!(
        created.spec.networking.as_ref().unwrap().ingress[0].from[0]
            .security_group
            .as_ref()
            .unwrap()
            .group_id,
        "sg-0123456789abcdef0"
    );
    // An invalid target type is refused by the API server itself.
    let mut bad: serde_json::Value = serde_yaml::from_str(manifest).unwrap();
    bad["metadata"]["name"] = json!("bad-type");
    bad["spec"]["targetType"] = json!("pod");
    // Sent as raw JSON (as kubectl would), so the API server's schema, not Rust's types, decides.
    let ar = kube::api::ApiResource::erase::<TargetGroupBinding>(&());
    let raw: kube::api::DynamicObject = serde_json::from_value(bad).unwrap();
    let refused = Api::<kube::api::DynamicObject>::namespaced_with(env.client.clone(), "app-namespace", &ar)
        .create(&PostParams::default(), &raw)
        .await;
    match refused {
        Err(kube::Error::Api(e)) => assert!(e.code == 422 && e.message.contains("targetType"), "{e:?}"),
        other => panic!("targetType: pod was accepted: {other:?}"),
    }
}

#[tokio::test]
async fn registers_ready_endpoints_follows_scaling_and_cleans_up_on_delete() {
    let env = Env::start().await;
    let arn = env.target_group("web").await;
    env.service("web", &[("http", 80, 8080), ("admin", 9090, 9091)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.1.0.1", true), ("10.1.0.2", true)])
        .await;
    let _c = env.controller("solo");

    env.binding("web", Spec::ip("web", 80, &arn)).await;
    env.wait_for_targets("two targets registered", WAIT, &arn, &["10.1.0.1:8080", "10.1.0.2:8080"])
        .await;
    wait_for("Ready=True with counts", WAIT, || async {
        let tgb = env.tgbs().get("web").await.unwrap();
        let s = tgb.status.unwrap_or_default();
        s.registered_targets == Some(2)
            && s.observed_generation == tgb.metadata.generation
            && s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    })
    .await;
    let tgb = env.tgbs().get("web").await.unwrap();
    assert!(tgb
        .metadata
        .finalizers
        .unwrap_or_default()
        .contains(&"elbv2.k8s.aws/resources".to_string()));

    // Scale up, then one endpoint goes not-ready, then scale down.
    env.slice(
        "web-a",
        "web",
        "http",
        8080,
        &[("10.1.0.1", true), ("10.1.0.2", true), ("10.1.0.3", true)],
    )
    .await;
    wait_for("scale up to three", WAIT, || async { env.targets(&arn).await.len() == 3 }).await;
    env.slice(
        "web-a",
        "web",
        "http",
        8080,
        &[("10.1.0.1", true), ("10.1.0.2", false), ("10.1.0.3", true)],
    )
    .await;
    env.wait_for_targets("not-ready endpoint deregistered", WAIT, &arn, &["10.1.0.1:8080", "10.1.0.3:8080"])
        .await;
    env.slice("web-a", "web", "http", 8080, &[("10.1.0.3", true)]).await;
    env.wait_for_targets("scale down to one", WAIT, &arn, &["10.1.0.3:8080"]).await;
    // Scaled to zero: the slice's endpoints become null, and the group empties.
    env.slice("web-a", "web", "http", 8080, &[]).await;
    wait_for("scale to zero", WAIT, || async { env.targets(&arn).await.is_empty() }).await;
    env.slice("web-a", "web", "http", 8080, &[("10.1.0.3", true)]).await;
    env.wait_for_targets("back to one", WAIT, &arn, &["10.1.0.3:8080"]).await;

    // Port by name selects the other Service port's endpoints.
    env.slice("web-admin", "web", "admin", 9091, &[("10.1.9.1", true)]).await;
    env.binding("admin", Spec::ip("web", "admin", &env.target_group("admin").await))
        .await;
    let admin_arn = env.tgbs().get("admin").await.unwrap().spec.target_group_arn.unwrap();
    env.wait_for_targets("port by name", WAIT, &admin_arn, &["10.1.9.1:9091"]).await;

    // Delete: targets leave, then the finalizer goes and the object with it.
    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("binding gone", WAIT, || async {
        env.tgbs().get_opt("web").await.unwrap().is_none()
    })
    .await;
    assert!(env.targets(&arn).await.is_empty(), "deleting the binding deregisters its targets");
    assert_eq!(
        env.targets(&admin_arn).await,
        set(&["10.1.9.1:9091"]),
        "the other binding is untouched"
    );
}

#[tokio::test]
async fn missing_service_or_port_keeps_targets_and_says_why() {
    let env = Env::start().await;
    let arn = env.target_group("keep").await;
    env.service("keep", &[("http", 80, 8080)]).await;
    env.slice("keep-a", "keep", "http", 8080, &[("10.2.0.1", true)]).await;
    let c = env.controller("solo");
    env.binding("keep", Spec::ip("keep", 80, &arn)).await;
    wait_for("registered", WAIT, || async { env.targets(&arn).await.len() == 1 }).await;

    env.delete_service("keep").await;
    wait_for("ServiceNotFound", WAIT, || async {
        env.ready("keep").await == Some(("False".into(), "ServiceNotFound".into()))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.targets(&arn).await,
        set(&["10.2.0.1:8080"]),
        "a missing Service deregisters nothing"
    );

    env.service("keep", &[("other", 81, 8081)]).await;
    wait_for("PortNotFound", WAIT, || async {
        env.ready("keep").await == Some(("False".into(), "PortNotFound".into()))
    })
    .await;
    assert_eq!(
        env.targets(&arn).await,
        set(&["10.2.0.1:8080"]),
        "a missing port deregisters nothing"
    );

    let events = kube::api::Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), NS)
        .list(&Default::default())
        .await
        .unwrap();
    let reasons: Vec<String> = events.items.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(
        reasons.contains(&"ServiceNotFound".to_string()) && reasons.contains(&"TargetsRegistered".to_string()),
        "{reasons:?}"
    );
    assert!(
        c.metrics().contains("tgbind_reconcile_errors_total{reason=\"ServiceNotFound\"}"),
        "{}",
        c.metrics()
    );
}

#[tokio::test]
async fn bad_bindings_get_clear_conditions_and_do_not_disturb_others() {
    let env = Env::start().await;
    let good_arn = env.target_group("good").await;
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.3.0.1", true)]).await;
    let c = env.controller("solo");

    let missing_tg = good_arn
        .replace("/good/", "/missing/")
        .replace(good_arn.rsplit('/').next().unwrap(), "0000000000000000");
    let cases = [
        ("bad-arn", Spec::ip("svc", 80, "app-tg"), "InvalidSpec"),
        ("no-group", Spec::ip("svc", 80, "").without("targetGroupARN"), "InvalidSpec"),
        ("gone-group", Spec::ip("svc", 80, &missing_tg), "TargetGroupNotFound"),
        (
            // Instance targets need the Service's NodePort; this Service has none.
            "instance",
            Spec::instance("svc", 80, &env.instance_target_group("inst").await),
            "PortNotFound",
        ),
        ("no-port", Spec::ip("svc", 443, &env.target_group("noport").await), "PortNotFound"),
    ];
    for (name, spec, _) in &cases {
        env.binding(name, spec.clone()).await;
    }
    env.binding("good", Spec::ip("svc", 80, &good_arn)).await;
    // A second binding on the same group is refused rather than fighting the first.
    env.binding("second", Spec::ip("svc", 80, &good_arn)).await;
    for (name, _, reason) in &cases {
        wait_for(&format!("{name} reports {reason}"), WAIT, || async {
            env.ready(name).await == Some(("False".into(), reason.to_string()))
        })
        .await;
    }
    wait_for("good binding ready", WAIT, || async {
        env.ready("good").await == Some(("True".into(), "Synced".into()))
    })
    .await;
    wait_for("second binding refused", WAIT, || async {
        env.ready("second").await == Some(("False".into(), "TargetGroupAlreadyBound".into()))
    })
    .await;
    assert_eq!(env.targets(&good_arn).await, set(&["10.3.0.1:8080"]));

    // Immutable: changing the ARN of a synced binding is reported, and its group is left alone.
    let other = env.target_group("other").await;
    env.tgbs()
        .patch(
            "good",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "targetGroupARN": other } })),
        )
        .await
        .unwrap();
    wait_for("ImmutableFieldChanged", WAIT, || async {
        env.ready("good").await == Some(("False".into(), "ImmutableFieldChanged".into()))
    })
    .await;
    assert_eq!(env.targets(&good_arn).await, set(&["10.3.0.1:8080"]));
    assert!(env.targets(&other).await.is_empty());

    // The process never crashed.
    let mut c = c;
    assert!(c.child.try_wait().unwrap().is_none(), "controller exited: {}", c.logs());
}

#[tokio::test]
async fn target_group_deleted_out_of_band_shows_in_status_and_does_not_block_deletion() {
    let env = Env::start().await;
    let arn = env.target_group("doomed").await;
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.4.0.1", true)]).await;
    let _c = env.controller("solo");
    env.binding("doomed", Spec::ip("svc", 80, &arn)).await;
    wait_for("registered", WAIT, || async { env.targets(&arn).await.len() == 1 }).await;

    env.elb.delete_target_group().target_group_arn(&arn).send().await.unwrap();
    // The next event (an endpoint change) reconciles and finds the group gone.
    env.slice("svc-a", "svc", "http", 8080, &[("10.4.0.1", true), ("10.4.0.2", true)])
        .await;
    wait_for("TargetGroupNotFound", WAIT, || async {
        env.ready("doomed").await == Some(("False".into(), "TargetGroupNotFound".into()))
    })
    .await;

    env.tgbs().delete("doomed", &DeleteParams::default()).await.unwrap();
    wait_for("deletion not blocked", WAIT, || async {
        env.tgbs().get_opt("doomed").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn two_controllers_elect_one_leader_and_the_standby_takes_over() {
    let env = Env::start().await;
    let arn = env.target_group("ha").await;
    env.service("svc", &[("http", 80, 8080)]).await;
    env.slice("svc-a", "svc", "http", 8080, &[("10.5.0.1", true)]).await;
    let mut a = env.controller("replica-a");
    wait_for("a leads", WAIT, || async { a.is_leader() }).await;
    let b = env.controller("replica-b");
    wait_for("b serves metrics", WAIT, || async { b.metrics().contains("tgbind_leader") }).await;
    assert!(!b.is_leader(), "only one leader");

    env.binding("ha", Spec::ip("svc", 80, &arn)).await;
    wait_for("registered by the leader", WAIT, || async { env.targets(&arn).await.len() == 1 }).await;

    a.kill();
    let killed = std::time::Instant::now();
    // Lease duration in these tests is 4 s; the standby must lead within it (plus a renew period).
    wait_for("b takes over", Duration::from_secs(6), || async { b.is_leader() }).await;
    let took = killed.elapsed();
    env.slice("svc-a", "svc", "http", 8080, &[("10.5.0.1", true), ("10.5.0.2", true)])
        .await;
    wait_for("the new leader reconciles", WAIT, || async { env.targets(&arn).await.len() == 2 }).await;
    assert!(took <= Duration::from_secs(6), "takeover took {took:?}");
}

/// A controller (re)starting on a cluster whose targets are already registered must not write to AWS:
/// no binding may be decided from caches or indexes that are still filling. The bindings carry the
/// status a controller before it reported (a status generation, no record of a settled sync), so
/// each is read and checked, not trusted.
#[tokio::test]
async fn restart_with_everything_registered_writes_nothing() {
    let env = Env::start().await;
    let mut arns = Vec::new();
    for i in 0..30 {
        let name = format!("r{i}");
        let arn = env.target_group(&name).await;
        let ips: Vec<String> = (1..=5).map(|e| format!("10.20.{i}.{e}")).collect();
        let targets = ips
            .iter()
            .map(|ip| tgbind_aws::elbv2::types::TargetDescription::builder().id(ip).port(8080).build())
            .collect();
        env.elb
            .register_targets()
            .target_group_arn(&arn)
            .set_targets(Some(targets))
            .send()
            .await
            .unwrap();
        env.service(&name, &[("http", 80, 8080)]).await;
        let eps: Vec<(&str, bool)> = ips.iter().map(|ip| (ip.as_str(), true)).collect();
        env.slice(&format!("{name}-a"), &name, "http", 8080, &eps).await;
        env.binding(&name, Spec::ip(&name, 80, &arn)).await;
        let reported = json!({ "status": { "observedGeneration": 1 } });
        env.tgbs()
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&reported))
            .await
            .unwrap();
        arns.push(arn);
    }
    let c = env.controller("restarted");
    wait_for("all 30 bindings ready", Duration::from_secs(60), || async {
        let list = env.tgbs().list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .filter(|b| b.status.as_ref().is_some_and(|s| s.registered_targets == Some(5)))
            .count()
            == 30
    })
    .await;
    let metrics = c.metrics();
    assert!(
        !metrics.contains("operation=\"DeregisterTargets\""),
        "a restart deregistered targets:\n{metrics}"
    );
    assert!(
        !metrics.contains("operation=\"RegisterTargets\""),
        "a restart re-registered targets:\n{metrics}"
    );
    for arn in &arns {
        assert_eq!(env.targets(arn).await.len(), 5);
    }
}

/// A binding no controller has reported on registers what it wants without reading first; its
/// health recheck is its first read. So a new binding settles in two ELBv2 calls (not a read, the
/// write and a health recheck), and a target it does not want is still removed, at that read.
#[tokio::test]
async fn a_new_binding_registers_first_and_reads_after() {
    let env = Env::start().await;
    let arn = env.target_group("fresh").await;
    let stale = tgbind_aws::elbv2::types::TargetDescription::builder()
        .id("10.21.0.9")
        .port(8080)
        .build();
    env.elb
        .register_targets()
        .target_group_arn(&arn)
        .targets(stale)
        .send()
        .await
        .unwrap();
    env.service("fresh", &[("http", 80, 8080)]).await;
    env.slice("fresh-a", "fresh", "http", 8080, &[("10.21.0.1", true), ("10.21.0.2", true)])
        .await;
    let c = env.controller("fresh");
    env.binding("fresh", Spec::ip("fresh", 80, &arn)).await;
    env.wait_for_targets(
        "the wanted targets, the stale one gone",
        WAIT,
        &arn,
        &["10.21.0.1:8080", "10.21.0.2:8080"],
    )
    .await;
    wait_for("Ready, and the settled sync recorded", WAIT, || async {
        let tgb = env.tgbs().get("fresh").await.unwrap();
        let recorded = tgb.annotations().contains_key(tgbind_controller::synced::ANNOTATION);
        recorded && env.ready("fresh").await == Some(("True".into(), "Synced".into()))
    })
    .await;
    let m = c.metrics();
    let calls = |op: &str| support::metric(&m, &format!("tgbind_aws_api_calls_total{{operation=\"{op}\""));
    assert_eq!(calls("RegisterTargets"), 1.0, "{m}");
    assert_eq!(
        calls("DescribeTargetHealth"),
        1.0,
        "the read after the write is the health read: {m}"
    );
    assert_eq!(calls("DeregisterTargets"), 1.0, "{m}");
    // Two writes to the binding's metadata: its record with the finalizer before the first AWS
    // write, then the record of the settled sync.
    assert_eq!(env.binding_requests("PATCH", ""), 2.0);
    assert!(env.tgbs().get("fresh").await.unwrap().finalizers().contains(&FINALIZER.to_string()));

    // Once reported on, an unchanged binding is verified by a read (its first within the short
    // resync period), never written again.
    drop(c);
    let again = support::Controller::start(&env, "fresh-again", &[("RESYNC", "2s")]);
    wait_for("verified by the next controller", WAIT, || async {
        support::metric(&again.metrics(), "tgbind_aws_api_calls_total{operation=\"DescribeTargetHealth\"") >= 1.0
    })
    .await;
    let m = again.metrics();
    assert!(!m.contains("operation=\"RegisterTargets\""), "{m}");
    assert_eq!(env.targets(&arn).await.len(), 2);
}

/// A new binding's finalizer comes with its record in one merge patch, which replaces the list of
/// finalizers whole and so names the resourceVersion it was computed from. That a stale read is
/// refused (409), and another controller's finalizer added meanwhile kept, is the API server's
/// part of that guarantee: checked here on the apiserver the tests run.
#[tokio::test]
async fn a_finalizer_list_patched_from_a_stale_read_is_refused() {
    let env = Env::start().await;
    let arn = env.target_group("stale").await;
    env.binding("stale", Spec::ip("stale", 80, &arn)).await;
    let read = env.tgbs().get("stale").await.unwrap();
    let other = json!({ "metadata": { "finalizers": ["example.com/other"] } });
    env.tgbs()
        .patch("stale", &PatchParams::default(), &Patch::Merge(&other))
        .await
        .unwrap();
    let ours = json!({ "metadata": { "resourceVersion": read.resource_version(), "finalizers": [FINALIZER] } });
    let refused = env.tgbs().patch("stale", &PatchParams::default(), &Patch::Merge(&ours)).await;
    assert!(matches!(&refused, Err(kube::Error::Api(e)) if e.code == 409), "{refused:?}");
    assert_eq!(env.tgbs().get("stale").await.unwrap().finalizers(), ["example.com/other"]);
}
