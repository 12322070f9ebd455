//! Compatibility with the AWS Load Balancer Controller's TargetGroupBindings, on a real
//! kube-apiserver with moto:
//! - the corpus in `tests/corpus/lbc/`: manifests in the shapes of the LBC's documentation (written
//!   by us), each with the outcome it must have: the schema refuses it, the controller refuses it
//!   with a reason and writes nothing, or it registers exactly these targets;
//! - a group in another account through `iamRoleArnToAssume` (moto's STS: an assumed role's keys
//!   reach the role's account), and STS refusing the role;
//! - zone `all` for pod IPs outside the group's VPC, secondary CIDRs counting as inside;
//! - the whole lifecycle with the LBC's own CRD installed (status pruned to `observedGeneration`);
//! - a name edit on a name-only binding, and a cleanup AWS refuses.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::CustomResourceExt;
use serde_json::{json, Value};
use support::{corpus, registered, set, wait_for, Controller, Env, Spec, NS};
use tgbind_aws::elbv2;
use tgbind_aws::elbv2::types::TargetTypeEnum;
use tgbind_controller::crd::TargetGroupBinding;
use tgbind_testkit::faults::{FaultProxy, Faults};

const ROLE_ARN: &str = "arn:aws:iam::999999999999:role/tgbind-corpus";
const WAIT: Duration = Duration::from_secs(20);

async fn create_group(elb: &elbv2::Client, name: &str, vpc: &str, target_type: TargetTypeEnum) -> String {
    let out = elb
        .create_target_group()
        .name(name)
        .port(80)
        .protocol(elbv2::types::ProtocolEnum::Http)
        .vpc_id(vpc)
        .target_type(target_type)
        .send()
        .await
        .unwrap();
    out.target_groups()[0].target_group_arn().unwrap().to_string()
}

/// The Service every corpus case binds: NodePort `web` (80 → 8080) with one ready endpoint, one
/// whose readiness is unknown and one not ready, and four nodes (pool a, pool b, pool a with the
/// legacy exclusion label, pool a not Ready). Returns the node port.
async fn workload(env: &Env) -> i32 {
    let node_port = env.node_port_service("web", 80).await;
    env.apply_slice(
        "web-a",
        json!({
            "apiVersion": env.slices.api_version, "kind": "EndpointSlice",
            "metadata": { "name": "web-a", "namespace": NS, "labels": { "kubernetes.io/service-name": "web" } },
            "addressType": "IPv4",
            "endpoints": [
                { "addresses": ["10.77.0.1"], "conditions": { "ready": true } },
                { "addresses": ["10.77.0.2"], "conditions": {} },
                { "addresses": ["10.77.0.3"], "conditions": { "ready": false } },
            ],
            "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
        }),
    )
    .await;
    env.node("a01", "i-0000000000000a01", &[("pool", "a")], None, true).await;
    env.node("a02", "i-0000000000000a02", &[("pool", "b")], None, true).await;
    let legacy = ("alpha.service-controller.kubernetes.io/exclude-balancer", "true");
    env.node("a03", "i-0000000000000a03", &[("pool", "a"), legacy], None, true).await;
    env.node("a04", "i-0000000000000a04", &[("pool", "a")], None, false).await;
    node_port
}

fn api_for(env: &Env, api_version: &str) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap();
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, "TargetGroupBinding"));
    Api::namespaced_with(env.client.clone(), NS, &ar)
}

/// Creates one corpus document, named `prefix-<its name>` in the test namespace.
async fn create(env: &Env, prefix: &str, mut doc: Value) -> Result<String, kube::Error> {
    let name = format!("{prefix}-{}", doc["metadata"]["name"].as_str().unwrap_or("tgb"));
    doc["metadata"]["name"] = json!(name);
    doc["metadata"]["namespace"] = json!(NS);
    let api = api_for(env, doc["apiVersion"].as_str().unwrap());
    let obj: DynamicObject = serde_json::from_value(doc).unwrap();
    api.create(&PostParams::default(), &obj).await.map(|_| name)
}

enum Outcome {
    Rejected,
    Refused(String),
    Registers { group: String, targets: BTreeSet<String> },
}

fn outcome(expect: &str, node_port: i32) -> Outcome {
    let words: Vec<&str> = expect.split_whitespace().collect();
    match words.as_slice() {
        ["rejected"] => Outcome::Rejected,
        ["refused", reason] => Outcome::Refused(reason.to_string()),
        ["registers", group, targets @ ..] => Outcome::Registers {
            group: group.to_string(),
            targets: targets.iter().map(|t| t.replace("NODE_PORT", &node_port.to_string())).collect(),
        },
        _ => panic!("unknown expectation {expect:?}"),
    }
}

#[tokio::test]
async fn lbc_documentation_shapes_behave_as_documented() {
    let env = Env::start().await;
    let cel = corpus::enforces_cel(&env.client).await;
    let node_port = workload(&env).await;
    let assumed = env.moto.assume_role(ROLE_ARN);
    let other_account = env.moto.elbv2_with(assumed.clone());
    let other_vpc = env.moto.default_vpc_of(&assumed);
    let mut controller = env.controller("lbc-corpus");

    struct Case {
        file: String,
        name: String,
        outcome: Outcome,
        /// Placeholder → (ARN, the client of its account).
        groups: BTreeMap<&'static str, (String, elbv2::Client)>,
        replacements: Vec<(&'static str, String)>,
        status: Option<String>,
        reason: String,
    }
    let mut cases = Vec::new();
    let mut priors = Vec::new();
    let files = corpus::read("lbc");
    assert!(files.len() >= 30, "the corpus has {} cases", files.len());
    for file in &files {
        let n = format!("c{}", &file.file[..2]);
        let mut groups = BTreeMap::new();
        if file.text.contains("IP_GROUP") {
            let arn = create_group(&env.elb, &n, &env.vpc, TargetTypeEnum::Ip).await;
            groups.insert("IP_GROUP", (arn, env.elb.clone()));
        }
        if file.text.contains("INSTANCE_GROUP") {
            let arn = create_group(&env.elb, &format!("{n}-i"), &env.vpc, TargetTypeEnum::Instance).await;
            groups.insert("INSTANCE_GROUP", (arn, env.elb.clone()));
        }
        if file.text.contains("XACCT_IP_GROUP") {
            let arn = create_group(&other_account, &format!("{n}-x"), &other_vpc, TargetTypeEnum::Ip).await;
            groups.insert("XACCT_IP_GROUP", (arn, other_account.clone()));
        }
        // Longest placeholders first: IP_GROUP is a part of the others.
        let mut replacements: Vec<(&'static str, String)> = vec![
            (
                "XACCT_IP_GROUP",
                groups.get("XACCT_IP_GROUP").map(|g| g.0.clone()).unwrap_or_default(),
            ),
            (
                "INSTANCE_GROUP",
                groups.get("INSTANCE_GROUP").map(|g| g.0.clone()).unwrap_or_default(),
            ),
            ("IP_GROUP_NAME", n.clone()),
            ("IP_GROUP", groups.get("IP_GROUP").map(|g| g.0.clone()).unwrap_or_default()),
        ];
        replacements.extend([("VPC_ID", env.vpc.clone()), ("ROLE_ARN", ROLE_ARN.to_string())]);
        let mut docs = file.objects(&replacements);
        let last = docs.pop().unwrap();
        for doc in docs {
            priors.push(create(&env, &n, doc).await.unwrap_or_else(|e| panic!("{}: {e}", file.file)));
        }
        let outcome = outcome(file.expect(cel), node_port);
        cases.push((
            last,
            Case {
                file: file.file.clone(),
                name: n,
                outcome,
                groups,
                replacements,
                status: file.header("status").map(String::from),
                reason: file.header("reason").unwrap_or("Synced").to_string(),
            },
        ));
    }
    // Documents before the last (the first binding of a duplicate) settle first.
    for name in &priors {
        wait_for(&format!("{name} synced"), WAIT, || async {
            env.ready(name).await == Some(("True".into(), "Synced".into()))
        })
        .await;
    }
    let mut before: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, case) in &cases {
        for (arn, elb) in case.groups.values() {
            before.insert(arn.clone(), registered(elb, arn).await);
        }
    }
    let mut awaiting = Vec::new();
    for (doc, mut case) in cases {
        let created = create(&env, &case.name, doc).await;
        match (&case.outcome, created) {
            (Outcome::Rejected, Err(kube::Error::Api(e))) if (400..500).contains(&e.code) => {}
            (Outcome::Rejected, other) => panic!("{}: expected the API server to refuse it, got {other:?}", case.file),
            (_, Err(e)) => panic!("{}: refused by the API server: {e}", case.file),
            (_, Ok(name)) => {
                case.name = name;
                awaiting.push(case);
            }
        }
    }
    for case in &awaiting {
        match &case.outcome {
            Outcome::Registers { group, targets } => {
                let (arn, elb) = case
                    .groups
                    .get(group.as_str())
                    .unwrap_or_else(|| panic!("{}: no {group}", case.file));
                wait_for(&format!("{}: registers {targets:?}", case.file), WAIT, || async {
                    &registered(elb, arn).await == targets
                })
                .await;
                wait_for(&format!("{}: Ready reason {}", case.file, case.reason), WAIT, || async {
                    env.ready(&case.name).await.is_some_and(|(_, r)| r == case.reason)
                })
                .await;
                let status = api_for(&env, "elbv2.k8s.aws/v1beta1").get(&case.name).await.unwrap().data["status"].clone();
                for pair in case.status.iter().flat_map(|s| s.split_whitespace()) {
                    let (field, want) = pair.split_once('=').unwrap();
                    let mut want = want.to_string();
                    for (from, to) in &case.replacements {
                        want = want.replace(from, to);
                    }
                    assert_eq!(status[field], json!(want), "{}: status.{field} in {status}", case.file);
                }
            }
            Outcome::Refused(reason) => {
                wait_for(&format!("{}: refused with {reason}", case.file), WAIT, || async {
                    env.ready(&case.name).await == Some(("False".into(), reason.clone()))
                })
                .await;
            }
            Outcome::Rejected => unreachable!(),
        }
    }
    // A refused binding wrote nothing: every group it names holds what it held before.
    for case in awaiting.iter().filter(|c| matches!(c.outcome, Outcome::Refused(_))) {
        for (arn, elb) in case.groups.values() {
            assert_eq!(registered(elb, arn).await, before[arn], "{}: the group changed", case.file);
        }
    }

    // Deleting every binding empties every group, in both accounts.
    let all = env.tgbs().list(&Default::default()).await.unwrap();
    for tgb in &all.items {
        env.tgbs()
            .delete(tgb.metadata.name.as_deref().unwrap(), &DeleteParams::default())
            .await
            .unwrap();
    }
    wait_for("every binding deleted", WAIT, || async {
        env.tgbs().list(&Default::default()).await.unwrap().items.is_empty()
    })
    .await;
    for case in &awaiting {
        for (arn, elb) in case.groups.values() {
            assert!(registered(elb, arn).await.is_empty(), "{}: targets left in {arn}", case.file);
        }
    }
    assert!(controller.child.try_wait().unwrap().is_none(), "the controller exited");
    assert!(!controller.logs().contains("panicked"));
    controller.kill();
    eprintln!(
        "{} LBC-shaped manifests: {} refused by the API server ({}), {} answered by the controller",
        files.len(),
        files.len() - awaiting.len(),
        if cel { "CEL enforced" } else { "no CEL" },
        awaiting.len()
    );
}

/// `Targets.member.N.Id` → its `AvailabilityZone` (if any), over every RegisterTargets moto received.
fn registered_zones(proxy: &FaultProxy) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for body in proxy.forwarded_bodies().iter().filter(|b| b.contains("Action=RegisterTargets")) {
        let fields: BTreeMap<&str, &str> = body.split('&').filter_map(|p| p.split_once('=')).collect();
        for (key, id) in &fields {
            if let Some(n) = key.strip_prefix("Targets.member.").and_then(|k| k.strip_suffix(".Id")) {
                let zone = fields.get(format!("Targets.member.{n}.AvailabilityZone").as_str());
                out.insert(id.to_string(), zone.map(|z| z.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_group_in_another_account_is_reached_through_the_role_and_sts_refusals_show() {
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    proxy.set(Faults {
        deny_actions: vec!["AssumeRole".into()],
        ..Default::default()
    });
    let assumed = env.moto.assume_role(ROLE_ARN);
    let other_account = env.moto.elbv2_with(assumed.clone());
    let other_vpc = env.moto.default_vpc_of(&assumed);
    let arn = create_group(&other_account, "across", &other_vpc, TargetTypeEnum::Ip).await;
    env.service("web", &[("http", 80, 8080)]).await;
    // 172.31.5.5 is inside the other account's VPC; 10.77.0.1 is not.
    env.slice("web-a", "web", "http", 8080, &[("172.31.5.5", true), ("10.77.0.1", true)])
        .await;
    let _controller = Controller::start(&env, "across", &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
    let spec = Spec::ip("web", 80, &arn)
        .with("iamRoleArnToAssume", ROLE_ARN)
        .with("assumeRoleExternalId", "tgbind-tests");
    env.binding("web", spec).await;
    wait_for("AssumeRoleFailed", WAIT, || async {
        env.ready("web").await == Some(("False".into(), "AssumeRoleFailed".into()))
    })
    .await;
    assert!(registered(&other_account, &arn).await.is_empty());
    assert!(
        !proxy.forwarded_bodies().iter().any(|b| b.contains("Action=RegisterTargets")),
        "nothing was written while the role was refused"
    );

    proxy.set(Faults::default());
    wait_for("registered in the other account", Duration::from_secs(30), || async {
        registered(&other_account, &arn).await == set(&["172.31.5.5:8080", "10.77.0.1:8080"])
    })
    .await;
    let bodies = proxy.forwarded_bodies();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("Action=AssumeRole") && b.contains("ExternalId=tgbind-tests")),
        "AssumeRole carried the external ID"
    );
    // The VPC was read with the role's credentials: an address inside it registers in its own zone.
    let zones = registered_zones(&proxy);
    assert_eq!(zones["172.31.5.5"], None, "{zones:?}");
    assert_eq!(zones["10.77.0.1"].as_deref(), Some("all"), "{zones:?}");
    // The controller's own account does not have the group.
    assert!(env.elb.describe_target_groups().target_group_arns(&arn).send().await.is_err());

    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("targets deregistered in the other account", WAIT, || async {
        registered(&other_account, &arn).await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn pod_ips_outside_the_vpc_register_in_zone_all_and_secondary_cidrs_count_as_inside() {
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    env.ec2()
        .associate_vpc_cidr_block()
        .vpc_id(&env.vpc)
        .cidr_block("100.64.0.0/16")
        .send()
        .await
        .unwrap();
    let arn = env.target_group("zones").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice(
        "web-a",
        "web",
        "http",
        8080,
        &[("172.31.1.1", true), ("100.64.0.1", true), ("10.77.0.1", true)],
    )
    .await;
    let _controller = Controller::start(&env, "zones", &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    env.wait_for_targets("registered", WAIT, &arn, &["172.31.1.1:8080", "100.64.0.1:8080", "10.77.0.1:8080"])
        .await;
    let zones = registered_zones(&proxy);
    let want: BTreeMap<String, Option<String>> = [
        ("172.31.1.1".to_string(), None),
        ("100.64.0.1".to_string(), None),
        ("10.77.0.1".to_string(), Some("all".to_string())),
    ]
    .into();
    assert_eq!(zones, want);
}

/// The LBC's CRD as its migration keeps it installed: the same spec, no CEL rules, its printer
/// columns, and a status that holds `observedGeneration` only (the API server prunes the rest).
fn lbc_crd() -> CustomResourceDefinition {
    fn strip_rules(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("x-kubernetes-validations");
                m.values_mut().for_each(strip_rules);
            }
            Value::Array(a) => a.iter_mut().for_each(strip_rules),
            _ => {}
        }
    }
    let mut crd = serde_json::to_value(TargetGroupBinding::crd()).unwrap();
    for version in crd["spec"]["versions"].as_array_mut().unwrap() {
        let root = &mut version["schema"]["openAPIV3Schema"];
        root["properties"]["status"] = json!({
            "type": "object",
            "properties": { "observedGeneration": { "type": "integer", "format": "int64" } },
        });
        strip_rules(root);
        version["additionalPrinterColumns"] = json!([
            { "name": "SERVICE-NAME", "type": "string", "jsonPath": ".spec.serviceRef.name" },
            { "name": "SERVICE-PORT", "type": "string", "jsonPath": ".spec.serviceRef.port" },
            { "name": "TARGET-TYPE", "type": "string", "jsonPath": ".spec.targetType" },
            { "name": "ARN", "type": "string", "jsonPath": ".spec.targetGroupARN", "priority": 1 },
            { "name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp" },
        ]);
    }
    serde_json::from_value(crd).unwrap()
}

/// Warning events about a binding, by reason.
async fn event_reasons(env: &Env, binding: &str) -> BTreeSet<String> {
    let events: Api<Event> = Api::namespaced(env.client.clone(), NS);
    let params = ListParams::default().fields(&format!("involvedObject.name={binding}"));
    events
        .list(&params)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn the_whole_lifecycle_on_the_lbcs_own_crd() {
    let env = Env::start_with_crd(lbc_crd()).await;
    let arn = env.target_group("life").await;
    let other = env.target_group("elsewhere").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.78.0.1", true), ("10.78.0.2", true)])
        .await;
    let controller = env.controller("lbc-crd-1");
    // No targetType: taken from the group, with nothing but the spec to go on.
    env.binding("web", Spec::ip("web", 80, &arn).without("targetType")).await;
    env.wait_for_targets("registered", WAIT, &arn, &["10.78.0.1:8080", "10.78.0.2:8080"])
        .await;
    let api = api_for(&env, "elbv2.k8s.aws/v1beta1");
    wait_for("observedGeneration written", WAIT, || async {
        api.get("web").await.unwrap().data["status"]["observedGeneration"] == json!(1)
    })
    .await;
    let status = api.get("web").await.unwrap().data["status"].clone();
    assert_eq!(status, json!({ "observedGeneration": 1 }), "the LBC's CRD prunes the rest");

    // Scaling is followed.
    env.slice("web-a", "web", "http", 8080, &[("10.78.0.1", true)]).await;
    env.wait_for_targets("scaled in", WAIT, &arn, &["10.78.0.1:8080"]).await;

    // An ARN edit is refused (an event says so; the status that would is pruned), even after a
    // restart that forgets everything the process knew.
    env.tgbs()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "targetGroupARN": other } })),
        )
        .await
        .unwrap();
    wait_for("ImmutableFieldChanged event", WAIT, || async {
        event_reasons(&env, "web").await.contains("ImmutableFieldChanged")
    })
    .await;
    drop(controller);
    let mut controller = env.controller("lbc-crd-2");
    env.slice("web-a", "web", "http", 8080, &[("10.78.0.1", true), ("10.78.0.3", true)])
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.targets(&arn).await,
        set(&["10.78.0.1:8080"]),
        "a refused binding writes nothing"
    );
    assert!(env.targets(&other).await.is_empty());

    // Reverted, it syncs again; deleted, its targets leave the group it is bound to.
    env.tgbs()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "targetGroupARN": arn } })),
        )
        .await
        .unwrap();
    env.wait_for_targets("synced after the revert", WAIT, &arn, &["10.78.0.1:8080", "10.78.0.3:8080"])
        .await;
    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("deleted", WAIT, || async { env.tgbs().get_opt("web").await.unwrap().is_none() }).await;
    assert!(env.targets(&arn).await.is_empty());
    assert!(env.targets(&other).await.is_empty());
    assert!(!controller.logs().contains("panicked"));
    controller.kill();
}

#[tokio::test]
async fn a_name_edit_on_a_name_only_binding_never_leaves_the_old_groups_targets_behind() {
    let env = Env::start().await;
    let cel = corpus::enforces_cel(&env.client).await;
    let old = env.target_group("old-name").await;
    let new = env.target_group("new-name").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.79.0.1", true)]).await;
    let _controller = env.controller("rename");
    let spec = Spec::ip("web", 80, "")
        .without("targetGroupARN")
        .with("targetGroupName", "old-name");
    env.binding("web", spec).await;
    env.wait_for_targets("registered by name", WAIT, &old, &["10.79.0.1:8080"]).await;

    let edit = env
        .tgbs()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "targetGroupName": "new-name" } })),
        )
        .await;
    if cel {
        assert!(edit.is_err(), "the CRD's transition rule refuses the edit");
    } else {
        edit.unwrap();
        wait_for("ImmutableFieldChanged", WAIT, || async {
            env.ready("web").await == Some(("False".into(), "ImmutableFieldChanged".into()))
        })
        .await;
    }
    assert_eq!(env.targets(&old).await, set(&["10.79.0.1:8080"]));
    assert!(env.targets(&new).await.is_empty());
    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("deleted", WAIT, || async { env.tgbs().get_opt("web").await.unwrap().is_none() }).await;
    assert!(env.targets(&old).await.is_empty(), "the old group's targets left with the binding");
    assert!(env.targets(&new).await.is_empty());
}

#[tokio::test]
async fn a_cleanup_aws_refuses_shows_failed_cleanup_and_is_retried() {
    let env = Env::start().await;
    let proxy = FaultProxy::start(env.moto.port);
    let arn = env.target_group("cleanup").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-a", "web", "http", 8080, &[("10.80.0.1", true)]).await;
    let _controller = Controller::start(&env, "cleanup", &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
    env.binding("web", Spec::ip("web", 80, &arn)).await;
    env.wait_for_targets("registered", WAIT, &arn, &["10.80.0.1:8080"]).await;

    proxy.set(Faults {
        deny_actions: vec!["DeregisterTargets".into()],
        ..Default::default()
    });
    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("FailedCleanup", WAIT, || async {
        env.ready("web").await == Some(("False".into(), "FailedCleanup".into()))
    })
    .await;
    assert_eq!(env.targets(&arn).await, set(&["10.80.0.1:8080"]));
    assert!(event_reasons(&env, "web").await.contains("FailedCleanup"));

    proxy.set(Faults::default());
    wait_for("deleted once AWS allows it", Duration::from_secs(30), || async {
        env.tgbs().get_opt("web").await.unwrap().is_none()
    })
    .await;
    assert!(env.targets(&arn).await.is_empty());
}
