//! `spec.networking` on a real kube-apiserver with moto's EC2 and ELB: ingress rules land on the
//! security group of the targets' interfaces (the cluster-tagged one when an interface has
//! several), are shared between bindings, are revoked only when no binding needs them, and rules
//! the controller does not manage are never touched.
//!
//! moto matches `addresses.private-ip-address` against an interface's primary address only, so each
//! pod here has its own interface (as with security groups for pods) rather than a secondary IP.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange, Tag};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::{set, wait_for, Env, Spec};

const SHARED: &str = "elbv2.k8s.aws/targetGroupBinding=shared";

struct Network {
    ec2: aws_sdk_ec2::Client,
    vpc: String,
    subnet: String,
    /// The first three octets of the subnet (`172.31.0`).
    prefix: String,
}

impl Network {
    async fn of(env: &Env) -> Network {
        let ec2 = env.ec2();
        let subnets = ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&env.vpc).build())
            .send()
            .await
            .unwrap();
        let subnet = subnets
            .subnets()
            .iter()
            .find(|s| s.cidr_block() == Some("172.31.0.0/20"))
            .expect("moto's default subnet 172.31.0.0/20");
        Network {
            subnet: subnet.subnet_id().unwrap().to_string(),
            prefix: "172.31.0".to_string(),
            vpc: env.vpc.clone(),
            ec2,
        }
    }

    async fn group(&self, name: &str, tags: &[(&str, &str)]) -> String {
        let id = self
            .ec2
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(&self.vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        if !tags.is_empty() {
            let mut req = self.ec2.create_tags().resources(&id);
            for (k, v) in tags {
                req = req.tags(Tag::builder().key(*k).value(*v).build());
            }
            req.send().await.unwrap();
        }
        id
    }

    /// A pod's interface: `ip` (last octet) as its primary address, with these groups.
    async fn pod_interface(&self, last_octet: u8, groups: &[&str]) -> String {
        let ip = format!("{}.{last_octet}", self.prefix);
        self.ec2
            .create_network_interface()
            .subnet_id(&self.subnet)
            .private_ip_address(&ip)
            .set_groups(Some(groups.iter().map(|g| g.to_string()).collect()))
            .send()
            .await
            .unwrap();
        ip
    }

    /// A rule added by someone else (`description` may be None).
    async fn add_rule(&self, group: &str, port: i32, cidr: &str, description: Option<&str>) {
        let range = IpRange::builder()
            .cidr_ip(cidr)
            .set_description(description.map(str::to_string))
            .build();
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(range)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Every ingress rule of the group as `proto from-to peer [description]`.
    async fn rules(&self, group: &str) -> BTreeSet<String> {
        let out = self.ec2.describe_security_groups().group_ids(group).send().await.unwrap();
        let mut rules = BTreeSet::new();
        for p in out.security_groups().iter().flat_map(|g| g.ip_permissions()) {
            let head = format!(
                "{} {}-{}",
                p.ip_protocol().unwrap_or_default(),
                p.from_port().unwrap_or_default(),
                p.to_port().unwrap_or_default()
            );
            for r in p.ip_ranges() {
                rules.insert(format!("{head} {} [{}]", r.cidr_ip().unwrap(), r.description().unwrap_or("")));
            }
            for r in p.user_id_group_pairs() {
                rules.insert(format!("{head} {} [{}]", r.group_id().unwrap(), r.description().unwrap_or("")));
            }
        }
        rules
    }
}

fn shared(rules: &[String]) -> BTreeSet<String> {
    rules.iter().map(|r| format!("{r} [{SHARED}]")).collect()
}

async fn wait_rules(net: &Network, group: &str, want: &BTreeSet<String>, controller: &support::Controller) {
    let mut last = BTreeSet::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            last = net.rules(group).await;
            if &last == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "rules of {group}:\n  got  {last:?}\n  want {want:?}\ncontroller log:\n{}",
        controller.logs()
    );
}

#[tokio::test]
async fn ip_targets_moto_rules_are_shared_between_bindings_and_revoked_only_when_unneeded() {
    let env = Env::start().await;
    let net = Network::of(&env).await;
    let nodes = net.group("nodes", &[("kubernetes.io/cluster/test", "owned")]).await;
    let extra = net.group("extra", &[]).await;
    let lb = net.group("lb", &[]).await;
    // The pods' interfaces carry two groups: the cluster tag decides which one gets the rules.
    let web_a = net.pod_interface(20, &[&nodes, &extra]).await;
    let web_b = net.pod_interface(21, &[&nodes, &extra]).await;
    let api_a = net.pod_interface(22, &[&nodes]).await;
    // Rules that are not the controller's: one without a description, one with another description.
    net.add_rule(&nodes, 22, "0.0.0.0/0", None).await;
    net.add_rule(&nodes, 8080, "10.1.0.0/16", Some("ops")).await;
    // A managed rule no binding asks for (left by a binding deleted long ago).
    net.add_rule(&nodes, 9999, "10.9.0.0/16", Some(SHARED)).await;
    let user_rules: BTreeSet<String> = set(&["tcp 22-22 0.0.0.0/0 []", "tcp 8080-8080 10.1.0.0/16 [ops]"]);

    let web_tg = env.target_group("web").await;
    let api_tg = env.target_group("api").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.service("api", &[("http", 80, 8080)]).await;
    env.slice("web-1", "web", "http", 8080, &[(&web_a, true), (&web_b, true)]).await;
    env.slice("api-1", "api", "http", 8080, &[(&api_a, true)]).await;
    let controller = support::Controller::start(&env, "networking", &[("CLUSTER_NAME", "test")]);

    env.binding(
        "web",
        Spec::ip("web", 80, &web_tg).with(
            "networking",
            json!({ "ingress": [{ "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "protocol": "TCP", "port": 8080 }] }] }),
        ),
    )
    .await;
    env.binding(
        "api",
        Spec::ip("api", "http", &api_tg).with(
            "networking",
            json!({ "ingress": [
                { "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "port": 8080 }] },
                { "from": [{ "ipBlock": { "cidr": "10.0.0.0/8" } }], "ports": [] },
            ]}),
        ),
    )
    .await;

    // Both bindings' needs, once each; the stale managed rule revoked; the others untouched.
    let mut want: BTreeSet<String> = shared(&[format!("tcp 8080-8080 {lb}"), "tcp 0-65535 10.0.0.0/8".to_string()]);
    want.extend(user_rules.clone());
    wait_rules(&net, &nodes, &want, &controller).await;
    assert!(
        net.rules(&extra).await.is_empty(),
        "the untagged group of the interface gets nothing"
    );
    assert_eq!(env.targets(&web_tg).await, set(&["172.31.0.20:8080", "172.31.0.21:8080"]));
    wait_for("both bindings Ready", Duration::from_secs(20), || async {
        env.ready("web").await.is_some_and(|(s, _)| s == "True") && env.ready("api").await.is_some_and(|(s, _)| s == "True")
    })
    .await;

    // web goes: api still needs tcp 8080 from the load balancer's group, so it stays.
    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("web deleted", Duration::from_secs(20), || async {
        env.tgbs().get_opt("web").await.unwrap().is_none()
    })
    .await;
    assert_eq!(net.rules(&nodes).await, want, "a rule another binding needs is kept");

    // api stops asking for the CIDR rule: only that one is revoked.
    env.tgbs()
        .patch(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "networking": { "ingress": [
                { "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "port": 8080 }] },
            ]}}})),
        )
        .await
        .unwrap();
    let mut want: BTreeSet<String> = shared(&[format!("tcp 8080-8080 {lb}")]);
    want.extend(user_rules.clone());
    wait_rules(&net, &nodes, &want, &controller).await;

    // A pod whose address no interface holds: its binding says so, its targets are still registered,
    // and the other binding's rules are unaffected.
    let orphan_tg = env.target_group("orphan").await;
    env.service("orphan", &[("http", 80, 8080)]).await;
    env.slice("orphan-1", "orphan", "http", 8080, &[("172.31.0.50", true)]).await;
    env.binding(
        "orphan",
        Spec::ip("orphan", 80, &orphan_tg).with(
            "networking",
            json!({ "ingress": [{ "from": [{ "ipBlock": { "cidr": "192.168.0.0/16" } }], "ports": [] }] }),
        ),
    )
    .await;
    wait_for("orphan reports its unresolved target", Duration::from_secs(20), || async {
        env.ready("orphan")
            .await
            .is_some_and(|(s, r)| s == "False" && r == "SecurityGroupNotResolved")
    })
    .await;
    assert_eq!(env.targets(&orphan_tg).await, set(&["172.31.0.50:8080"]));
    assert_eq!(net.rules(&nodes).await, want);
    env.tgbs().delete("orphan", &DeleteParams::default()).await.unwrap();

    // The last binding goes: every managed rule leaves, the others stay.
    env.tgbs().delete("api", &DeleteParams::default()).await.unwrap();
    wait_rules(&net, &nodes, &user_rules, &controller).await;
    wait_for("bindings deleted", Duration::from_secs(20), || async {
        env.tgbs().list(&Default::default()).await.unwrap().items.is_empty()
    })
    .await;
    let metrics = controller.metrics();
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    println!(
        "networking: authorized {} revoked {} rules; {}",
        count("tgbind_security_group_rules_authorized_total"),
        count("tgbind_security_group_rules_revoked_total"),
        metrics
            .lines()
            .filter(|l| l.contains("SecurityGroup") && l.starts_with("tgbind_aws_api_calls"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert_eq!(count("tgbind_security_group_rules_authorized_total"), 2);
    assert_eq!(
        count("tgbind_security_group_rules_revoked_total"),
        3,
        "stale 9999, the CIDR rule, then the last one"
    );
}

#[tokio::test]
async fn instance_targets_moto_rules_land_on_the_nodes_primary_interface_group() {
    let env = Env::start().await;
    let net = Network::of(&env).await;
    let node_group = net.group("instance-nodes", &[]).await;
    let lb = net.group("instance-lb", &[]).await;
    let instance = net
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(&net.subnet)
        .security_group_ids(&node_group)
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let arn = env.instance_target_group("instance-web").await;
    let node_port = env.node_port_service("web", 80).await;
    env.node("node-1", &instance, &[], None, true).await;
    let controller = env.controller("instance-networking");
    env.binding(
        "web",
        Spec::instance("web", 80, &arn).with(
            "networking",
            json!({ "ingress": [{ "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "port": node_port }] }] }),
        ),
    )
    .await;
    let want = shared(&[format!("tcp {node_port}-{node_port} {lb}")]);
    wait_rules(&net, &node_group, &want, &controller).await;
    assert_eq!(env.targets(&arn).await, set(&[&format!("{instance}:{node_port}")]));

    // A named port cannot work for instance targets: a clear status, nothing changed.
    env.tgbs()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "networking": { "ingress": [
                { "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "port": "http" }] },
            ]}}})),
        )
        .await
        .unwrap();
    wait_for("named port refused for instance targets", Duration::from_secs(20), || async {
        env.ready("web").await.is_some_and(|(s, r)| s == "False" && r == "InvalidSpec")
    })
    .await;
    assert_eq!(net.rules(&node_group).await, want, "an invalid spec changes no rule");

    env.tgbs().delete("web", &DeleteParams::default()).await.unwrap();
    wait_rules(&net, &node_group, &BTreeSet::new(), &controller).await;
}

#[tokio::test]
async fn named_port_moto_resolves_to_the_pods_container_port() {
    let env = Env::start().await;
    let net = Network::of(&env).await;
    let nodes = net.group("named-nodes", &[]).await;
    let lb = net.group("named-lb", &[]).await;
    let ip = net.pod_interface(30, &[&nodes]).await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(env.client.clone(), support::NS);
    let pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "metrics-0", "labels": { "app": "metrics" } },
        "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1",
            "ports": [{ "name": "http", "containerPort": 8080 }, { "name": "metrics", "containerPort": 9102 }] }] },
    }))
    .unwrap();
    pods.create(&Default::default(), &pod).await.unwrap();
    let arn = env.target_group("metrics").await;
    env.service("metrics", &[("http", 80, 8080)]).await;
    env.slice_of_pods("metrics-1", "metrics", 8080, &[(&ip, "metrics-0", true, false)])
        .await;
    let controller = support::Controller::start(&env, "named-port", &[]);
    env.binding(
        "metrics",
        Spec::ip("metrics", 80, &arn).with(
            "networking",
            json!({ "ingress": [{ "from": [{ "securityGroup": { "groupID": lb } }], "ports": [{ "port": "metrics" }] }] }),
        ),
    )
    .await;
    wait_rules(&net, &nodes, &shared(&[format!("tcp 9102-9102 {lb}")]), &controller).await;
    assert_eq!(env.targets(&arn).await, set(&[&format!("{ip}:8080")]));
}
