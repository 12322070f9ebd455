//! Controller test substrate: a real kube-apiserver + etcd and a real moto_server on loopback, the
//! CRD installed, and `tgbind-controller` processes started against them. All stopped on drop.
#![allow(dead_code)]

pub mod corpus;
pub mod scripted;
pub mod traffic;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, Service, ServicePort, ServiceSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::CustomResourceExt;
use tgbind_aws::elbv2;
use tgbind_controller::crd::TargetGroupBinding;
use tgbind_testkit::apiserver::ApiServer;
use tgbind_testkit::moto::{free_port, Moto};
use tgbind_testkit::secrets;

pub const NS: &str = "default";

pub struct Env {
    pub api: ApiServer,
    /// Shared by the Envs of a multi-cluster test ("two clusters, one AWS account").
    pub moto: Arc<Moto>,
    pub client: kube::Client,
    pub slices: ApiResource,
    pub vpc: String,
    /// Talks to `aws_endpoint()`: the data plane when there is one, else moto.
    pub elb: elbv2::Client,
    /// elb-dataplane in front of moto (`start_with_dataplane`): real health checks and routing.
    pub dataplane: Option<Arc<tgbind_testkit::dataplane::Dataplane>>,
}

pub async fn client_for(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with_users(&[]).await
    }

    /// With extra static token users (see `ApiServer::start_with_users`).
    pub async fn start_with_users(users: &[(&str, &str, &str)]) -> Env {
        Self::start_full(users, Arc::new(Moto::start()), TargetGroupBinding::crd()).await
    }

    /// A second cluster (its own apiserver) in the same emulated AWS account as `other`.
    pub async fn start_sharing_aws(other: &Env) -> Env {
        Self::start_full(&[], other.moto.clone(), TargetGroupBinding::crd()).await
    }

    /// With another TargetGroupBinding CRD installed (the LBC's shape, say) instead of ours.
    pub async fn start_with_crd(crd: CustomResourceDefinition) -> Env {
        Self::start_full(&[], Arc::new(Moto::start()), crd).await
    }

    /// With elb-dataplane in front of moto: the controller and `elb` talk to it, targets are
    /// health-checked for real (time-scaled by `time_scale`) and listeners serve requests.
    pub async fn start_with_dataplane(time_scale: f64) -> Env {
        let mut env = Self::start().await;
        let dataplane = tgbind_testkit::dataplane::Dataplane::start(
            &env.moto.endpoint(),
            tgbind_testkit::dataplane::Options {
                time_scale,
                refresh: Duration::from_millis(500),
                ..Default::default()
            },
        )
        .expect("elb-dataplane starts");
        env.elb = tgbind_testkit::moto::elbv2_client_at(&dataplane.endpoint(), tgbind_testkit::moto::test_credentials());
        env.dataplane = Some(Arc::new(dataplane));
        env
    }

    /// Where the controller and `elb` send AWS calls.
    pub fn aws_endpoint(&self) -> String {
        match &self.dataplane {
            Some(d) => d.endpoint(),
            None => self.moto.endpoint(),
        }
    }

    async fn start_full(users: &[(&str, &str, &str)], moto: Arc<Moto>, crd: CustomResourceDefinition) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let api = ApiServer::start_with_users(users);
        let client = client_for(&api.kubeconfig_path()).await;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.create(&PostParams::default(), &crd).await.expect("the CRD applies");
        wait_for("CRD established", Duration::from_secs(20), || async {
            let tgbs: Api<TargetGroupBinding> = Api::namespaced(client.clone(), NS);
            tgbs.list(&Default::default()).await.is_ok()
        })
        .await;
        let slices = tgbind_controller::endpoints::endpoint_slice_resource(&client).await.unwrap();
        let vpc = moto.default_vpc();
        let elb = moto.elbv2().await;
        Env {
            api,
            moto,
            client,
            slices,
            vpc,
            elb,
            dataplane: None,
        }
    }

    /// Successful requests the API server served for `verb` on TargetGroupBindings' `subresource`
    /// ("" for the object itself), from its own metrics.
    pub fn binding_requests(&self, verb: &str, subresource: &str) -> f64 {
        let out = Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(self.api.ca_path())
            .args(["-H", &format!("Authorization: Bearer {}", secrets::ADMIN_TOKEN)])
            .arg(format!("{}/metrics", self.api.url()))
            .output()
            .unwrap();
        let labels = [
            "resource=\"targetgroupbindings\"".to_string(),
            format!("subresource=\"{subresource}\""),
            format!("verb=\"{verb}\""),
        ];
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("apiserver_request_total{code=\"2"))
            .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// An EC2 client for the emulated account (static test credentials, loopback only).
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .endpoint_url(self.moto.endpoint())
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                secrets::AWS_ACCESS_KEY_ID,
                secrets::AWS_SECRET_ACCESS_KEY,
                None,
                None,
                "tests",
            ))
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }

    pub fn tgbs(&self) -> Api<TargetGroupBinding> {
        Api::namespaced(self.client.clone(), NS)
    }

    /// An HTTP target group for `ip` targets in the test VPC.
    pub async fn target_group(&self, name: &str) -> String {
        self.target_group_of(name, elbv2::types::TargetTypeEnum::Ip).await
    }

    /// An HTTP target group for instance targets.
    pub async fn instance_target_group(&self, name: &str) -> String {
        self.target_group_of(name, elbv2::types::TargetTypeEnum::Instance).await
    }

    pub async fn target_group_of(&self, name: &str, target_type: elbv2::types::TargetTypeEnum) -> String {
        let mut attempt = 0;
        loop {
            let created = self
                .elb
                .create_target_group()
                .name(name)
                .port(80)
                .protocol(elbv2::types::ProtocolEnum::Http)
                .vpc_id(&self.vpc)
                .target_type(target_type.clone())
                .send()
                .await;
            match created {
                Ok(out) => return out.target_groups()[0].target_group_arn().unwrap().to_string(),
                // moto iterates its table of groups while a parallel create inserts into it
                // ("OrderedDict mutated during iteration", a 500) when thousands are created at
                // once, and the SDK's three attempts can all meet it: try again.
                Err(e) if attempt < 10 && e.raw_response().is_some_and(|r| r.status().as_u16() == 500) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => panic!("CreateTargetGroup {name}: {e:?}"),
            }
        }
    }

    /// Registered targets as `ip:port`.
    pub async fn targets(&self, arn: &str) -> BTreeSet<String> {
        registered(&self.elb, arn).await
    }

    pub async fn service(&self, name: &str, ports: &[(&str, i32, i32)]) {
        let svc = Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p, t)| ServicePort {
                            name: Some(n.to_string()),
                            port: *p,
                            target_port: Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(*t)),
                            ..Default::default()
                        })
                        .collect(),
                ),
                selector: Some([("app".to_string(), name.to_string())].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        Api::<Service>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &svc)
            .await
            .unwrap();
    }

    pub async fn delete_service(&self, name: &str) {
        Api::<Service>::namespaced(self.client.clone(), NS)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Creates or replaces an EndpointSlice (server-side apply, as the EndpointSlice controller).
    pub async fn apply_slice(&self, slice: &str, body: serde_json::Value) {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), NS, &self.slices);
        let obj: DynamicObject = serde_json::from_value(body).unwrap();
        api.patch(slice, &PatchParams::apply("tgbind-tests").force(), &Patch::Apply(&obj))
            .await
            .unwrap();
    }

    /// Creates or replaces the EndpointSlice `slice` of `service`: (ip, ready) endpoints, one port.
    pub async fn slice(&self, slice: &str, service: &str, port_name: &str, port: i32, endpoints: &[(&str, bool)]) {
        let body = serde_json::json!({
            "apiVersion": self.slices.api_version,
            "kind": "EndpointSlice",
            "metadata": { "name": slice, "namespace": NS, "labels": { "kubernetes.io/service-name": service } },
            "addressType": "IPv4",
            "endpoints": endpoints.iter().map(|(ip, ready)| serde_json::json!({ "addresses": [ip], "conditions": { "ready": ready } })).collect::<Vec<_>>(),
            "ports": [{ "name": port_name, "port": port, "protocol": "TCP" }],
        });
        self.apply_slice(slice, body).await;
    }

    /// Creates or replaces the EndpointSlice `slice` of `service` with endpoints that name their
    /// pods: (ip, pod, ready, terminating).
    pub async fn slice_of_pods(&self, slice: &str, service: &str, port: i32, endpoints: &[(&str, &str, bool, bool)]) {
        let body = serde_json::json!({
            "apiVersion": self.slices.api_version,
            "kind": "EndpointSlice",
            "metadata": { "name": slice, "namespace": NS, "labels": { "kubernetes.io/service-name": service } },
            "addressType": "IPv4",
            "endpoints": endpoints.iter().map(|(ip, pod, ready, terminating)| serde_json::json!({
                "addresses": [ip],
                "conditions": { "ready": ready, "terminating": terminating },
                "targetRef": { "kind": "Pod", "name": pod, "namespace": NS },
            })).collect::<Vec<_>>(),
            "ports": [{ "name": "http", "port": port, "protocol": "TCP" }],
        });
        self.apply_slice(slice, body).await;
    }

    /// A pod as the kubelet would report it (there is no kubelet here): `gate` in its readiness
    /// gates when given, containers ready or not, and the Ready condition.
    pub async fn pod(&self, name: &str, ip: &str, gate: Option<&str>, containers_ready: bool, ready: bool) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": NS, "labels": { "app": "web" } },
            "spec": {
                "containers": [{ "name": "app", "image": "registry.invalid/app:1" }],
                "readinessGates": gate.map(|g| vec![serde_json::json!({ "conditionType": g })]).unwrap_or_default(),
            },
        }))
        .unwrap();
        if pods.get_opt(name).await.unwrap().is_none() {
            pods.create(&PostParams::default(), &pod).await.unwrap();
        }
        self.pod_ready(name, ip, containers_ready, ready).await;
    }

    /// Sets the kubelet's view of a pod: IP, ContainersReady and Ready.
    pub async fn pod_ready(&self, name: &str, ip: &str, containers_ready: bool, ready: bool) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let word = |b: bool| if b { "True" } else { "False" };
        let patch = serde_json::json!({ "status": {
            "podIP": ip,
            "conditions": [
                { "type": "ContainersReady", "status": word(containers_ready) },
                { "type": "Ready", "status": word(ready) },
            ],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .unwrap();
    }

    /// A Node as the kubelet and cloud provider would report it: provider ID, labels, taint, Ready.
    pub async fn node(&self, name: &str, instance: &str, labels: &[(&str, &str)], taint: Option<&str>, ready: bool) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": { "name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>() },
            "spec": {
                "providerID": format!("aws:///us-east-1a/{instance}"),
                "taints": taint.map(|t| vec![serde_json::json!({ "key": t, "effect": "NoSchedule" })]).unwrap_or_default(),
            },
        });
        let node: Node = serde_json::from_value(body).unwrap();
        nodes
            .patch(name, &PatchParams::apply("tgbind-tests").force(), &Patch::Apply(&node))
            .await
            .unwrap();
        self.node_ready(name, ready).await;
    }

    pub async fn node_ready(&self, name: &str, ready: bool) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let status = serde_json::json!({ "status": { "conditions": [
            { "type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "KubeletReady" },
        ]}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(status))
            .await
            .unwrap();
    }

    /// A Service of type NodePort; returns the node port the API server allocated for `port`.
    pub async fn node_port_service(&self, name: &str, port: i32) -> i32 {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name },
            "spec": { "type": "NodePort", "selector": { "app": name }, "ports": [{ "name": "http", "port": port, "targetPort": 8080 }] },
        }))
        .unwrap();
        let created = Api::<Service>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &svc)
            .await
            .unwrap();
        created.spec.unwrap().ports.unwrap()[0].node_port.expect("a node port")
    }

    /// Deletes a pod (never scheduled here, so it goes at once).
    pub async fn delete_pod(&self, name: &str) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        pods.delete(name, &DeleteParams::default()).await.unwrap();
    }

    /// A pod condition's (status, reason).
    pub async fn pod_condition(&self, name: &str, type_: &str) -> Option<(String, String)> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let pod = pods.get(name).await.ok()?;
        let c = pod.status?.conditions?.into_iter().find(|c| c.type_ == type_)?;
        Some((c.status, c.reason.unwrap_or_default()))
    }

    /// Polls the group until its registered targets are exactly `expected` (`ip:port`); panics with
    /// `what` and what the group holds after `limit`.
    pub async fn wait_for_targets(&self, what: &str, limit: Duration, arn: &str, expected: &[&str]) {
        let expected = set(expected);
        let deadline = Instant::now() + limit;
        loop {
            let now = self.targets(arn).await;
            if now == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for: {what} (expected {expected:?}, registered {now:?})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Applies a TargetGroupBinding from YAML/JSON text (as a user would with kubectl).
    pub async fn binding(&self, name: &str, spec: impl Into<serde_json::Value>) {
        let spec: serde_json::Value = spec.into();
        let obj: TargetGroupBinding = serde_json::from_value(serde_json::json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": { "name": name, "namespace": NS }, "spec": spec,
        }))
        .unwrap();
        self.tgbs().create(&PostParams::default(), &obj).await.unwrap();
    }

    /// A Service `name` (port http 80 -> 8080) with one slice `{name}-a` of `endpoints`, a target
    /// group of the same name, and a binding of the two; returns the group's ARN.
    pub async fn bound_service(&self, name: &str, endpoints: &[(&str, bool)]) -> String {
        let arn = self.target_group(name).await;
        self.service(name, &[("http", 80, 8080)]).await;
        self.slice(&format!("{name}-a"), name, "http", 8080, endpoints).await;
        self.binding(name, Spec::ip(name, 80, &arn)).await;
        arn
    }

    /// Bindings carrying the record of a settled sync (what a restarted controller trusts).
    pub async fn settled_records(&self) -> usize {
        let list = self.tgbs().list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .filter(|b| {
                b.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(tgbind_controller::synced::ANNOTATION))
            })
            .count()
    }

    pub async fn ready(&self, name: &str) -> Option<(String, String)> {
        let tgb = self.tgbs().get(name).await.ok()?;
        let c = tgb.status?.conditions.into_iter().find(|c| c.type_ == "Ready")?;
        Some((c.status, c.reason))
    }

    pub fn controller(&self, identity: &str) -> Controller {
        Controller::start(self, identity, &[])
    }
}

/// The controller's command line: the binary, or under the profiler that TGBIND_CONTROLLER_WRAPPER
/// names with its arguments (e.g. `heaptrack -o /tmp/controller`, for the scale bench).
fn controller_command() -> Command {
    let binary = env!("CARGO_BIN_EXE_tgbind-controller");
    let wrapper = std::env::var("TGBIND_CONTROLLER_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    match words.next() {
        Some(tool) => {
            let mut command = Command::new(tool);
            command.args(words).arg(binary);
            command
        }
        None => Command::new(binary),
    }
}

pub struct Controller {
    pub child: Child,
    pub http_port: u16,
    pub log: PathBuf,
}

impl Controller {
    pub fn start(env: &Env, identity: &str, extra: &[(&str, &str)]) -> Controller {
        let http_port = free_port();
        let log = env.api.dir.path().join(format!("controller-{identity}.log"));
        let child = controller_command()
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", env.api.kubeconfig_path())
            .env("AWS_ENDPOINT_URL", env.aws_endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", secrets::AWS_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", secrets::AWS_SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("POD_NAME", identity)
            .env("POD_NAMESPACE", NS)
            .env("HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("LEASE_DURATION", "4s")
            .env("LEASE_RENEW", "1s")
            .env("BACKOFF_BASE", "200ms")
            .env("BACKOFF_CAP", "2s")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tgbind-controller");
        Controller { child, http_port, log }
    }

    pub fn metrics(&self) -> String {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{}/metrics", self.http_port)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn is_leader(&self) -> bool {
        self.metrics().lines().any(|l| l.trim() == "tgbind_leader 1")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
        tgbind_testkit::logs::keep_log(&self.log, "controller");
    }
}

/// A group's registered targets as `ip:port`, read with `elb` (for tasks that hold a client, not
/// the Env).
pub async fn registered(elb: &elbv2::Client, arn: &str) -> BTreeSet<String> {
    let out = elb.describe_target_health().target_group_arn(arn).send().await.unwrap();
    out.target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .map(|t| format!("{}:{}", t.id().unwrap(), t.port().unwrap_or_default()))
        .collect()
}

/// The sum of a Prometheus text exposition's samples whose line starts with `prefix` (a metric name,
/// optionally with the start of its labels).
pub fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `check` until it holds; panics with `what` after `limit`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TargetGroupBinding spec, as tests write them: `Spec::ip("web", 80, &arn)` is
/// `{serviceRef: {name: web, port: 80}, targetGroupARN: arn, targetType: ip}`; `.with` adds or
/// replaces a field.
#[derive(Clone)]
pub struct Spec(serde_json::Value);

impl Spec {
    pub fn new(service: &str, port: impl Into<serde_json::Value>, arn: &str, target_type: &str) -> Spec {
        Spec(serde_json::json!({
            "serviceRef": { "name": service, "port": port.into() },
            "targetGroupARN": arn,
            "targetType": target_type,
        }))
    }
    pub fn ip(service: &str, port: impl Into<serde_json::Value>, arn: &str) -> Spec {
        Self::new(service, port, arn, "ip")
    }
    pub fn instance(service: &str, port: impl Into<serde_json::Value>, arn: &str) -> Spec {
        Self::new(service, port, arn, "instance")
    }
    pub fn with(mut self, field: &str, value: impl Into<serde_json::Value>) -> Spec {
        self.0[field] = value.into();
        self
    }
    pub fn without(mut self, field: &str) -> Spec {
        if let Some(m) = self.0.as_object_mut() {
            m.remove(field);
        }
        self
    }
}

impl From<Spec> for serde_json::Value {
    fn from(spec: Spec) -> Self {
        spec.0
    }
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
