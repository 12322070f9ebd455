//! The container image, run the way the chart runs it. `scripts/build-image.sh` builds the image
//! (static binary, from scratch); the test unpacks it with umoci into a runtime bundle and starts
//! the image's entrypoint as a container runtime would: chrooted into the image's root filesystem,
//! mounted read-only (the chart's `readOnlyRootFilesystem`), as the image's user 65532, with the
//! args and env of the chart's rendered Deployment, and the files a kubelet mounts: the
//! ServiceAccount token, CA and namespace, an IRSA web-identity token, and a pod's resolv.conf
//! (search domains, `ndots:5`) pointing at a DNS server on loopback that knows
//! `kubernetes.default.svc.cluster.local` and AWS endpoint names such as
//! `elasticloadbalancing.us-east-1.amazonaws.com`. Against the real kube-apiserver and moto: a
//! binding becomes Ready with its targets registered, `/healthz` and `/metrics` answer, and SIGTERM
//! hands the lease to a standby at once. Needs root (chroot, mounts, DNS on port 53), as CI has.

mod support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery};
use serde_json::{json, Value};
use support::{wait_for, Controller, Env, Spec, NS};
use tgbind_testkit::dns::DnsServer;
use tgbind_testkit::moto::{free_port, venv};
use tgbind_testkit::secrets;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// A loopback address for this test's DNS server (not 127.0.0.53, where systemd-resolved lives).
const DNS_IP: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 1);
const SA_USER: &str = "system:serviceaccount:default:tgbind";

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn controller_version() -> String {
    let cargo = std::fs::read_to_string(format!("{ROOT}/controller/Cargo.toml")).unwrap();
    let line = cargo.lines().find(|l| l.starts_with("version = ")).unwrap();
    line.trim_start_matches("version = ").trim_matches('"').to_string()
}

/// The chart's objects for these values (rendered by the Helm v4 library).
fn chart_objects(values: Value) -> Vec<Value> {
    let out = Command::new(venv().join("bin/python"))
        .arg(format!("{ROOT}/scripts/render-chart.py"))
        .arg(values.to_string())
        .arg(NS)
        .output()
        .expect("render the chart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The container's env as the kubelet builds it: values, and `fieldRef`s resolved for this pod.
fn container_env(container: &Value, pod_name: &str) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => pod_name.to_string(),
                Some("metadata.namespace") => NS.to_string(),
                Some(other) => panic!("the test does not resolve fieldRef {other}"),
                None => e["value"].as_str().unwrap_or_default().to_string(),
            };
            (name, value)
        })
        .collect()
}

/// Writes a file into the bundle's root filesystem (as the runtime and kubelet would mount it).
fn put(rootfs: &Path, path: &str, text: &str) {
    let p = rootfs.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
}

fn euid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Applies the chart's RBAC objects (server-side apply, as the admin).
async fn apply_rbac(env: &Env, docs: &[Value]) {
    let discovery = Discovery::new(env.client.clone()).run().await.unwrap();
    let mut kinds = Vec::new();
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
        let name = obj.metadata.name.clone().unwrap();
        api.patch(&name, &PatchParams::apply("tests").force(), &Patch::Apply(&obj))
            .await
            .unwrap();
        kinds.push(doc["kind"].as_str().unwrap().to_string());
    }
    assert!(
        kinds.iter().any(|k| k == "ClusterRole") && kinds.iter().any(|k| k == "RoleBinding"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn the_image_runs_as_the_chart_runs_it() {
    assert_eq!(
        euid(),
        0,
        "this test needs root (chroot, bind mounts, DNS on port 53); CI runs as root"
    );
    let version = controller_version();
    let out = tempfile::tempdir().unwrap();
    run(
        Command::new("bash")
            .arg(format!("{ROOT}/scripts/build-image.sh"))
            // The dev profile: the same static build and packaging, minutes faster from a cold cache.
            .args(["--out", out.path().to_str().unwrap(), "--profile", "dev"]),
        "scripts/build-image.sh",
    );

    // What the script wrote: both archives, the docker one tagged with the chart's default image.
    let docker_tar = out.path().join(format!("tgbind-controller-{version}.docker.tar"));
    assert!(out.path().join(format!("tgbind-controller-{version}.oci.tar")).is_file());
    let manifest = run(
        Command::new("tar").args(["-xOf", docker_tar.to_str().unwrap(), "manifest.json"]),
        "read the docker-archive manifest",
    );
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let defaults = chart_objects(json!({}));
    let deployment = defaults.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let chart_image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    // Container tools write a name without a registry host with the default registry's host in
    // front, which is also how a kubelet resolves the chart's image.
    let tag = manifest[0]["RepoTags"][0].as_str().unwrap_or_default();
    assert!(
        tag == chart_image || tag.ends_with(&format!("/{chart_image}")),
        "the docker-archive carries the chart's default image {chart_image}: {tag}"
    );

    // Unpack the image into a runtime bundle: rootfs/ and the runtime config (user, args, env).
    let bundle = out.path().join("bundle");
    let cache = std::env::var_os("TGBIND_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv().parent().unwrap().to_path_buf());
    let image = format!("{}:{version}", out.path().join("oci").display());
    run(
        Command::new(cache.join("imagetools/root/usr/bin/umoci")).args(["unpack", "--image", &image, bundle.to_str().unwrap()]),
        "umoci unpack",
    );
    let config: Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    let process = &config["process"];
    assert_eq!(
        (process["user"]["uid"].as_u64(), process["user"]["gid"].as_u64()),
        (Some(65532), Some(65532))
    );
    let image_args: Vec<String> = process["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().into())
        .collect();
    assert_eq!(image_args, ["/tgbind-controller", "run"]);
    let labels = &config["annotations"];
    assert_eq!(labels["org.opencontainers.image.version"], json!(version));
    assert!(labels["org.opencontainers.image.revision"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(labels["org.opencontainers.image.source"].is_string());
    let rootfs = bundle.join("rootfs");
    for file in [
        "tgbind-controller",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/nsswitch.conf",
    ] {
        assert!(rootfs.join(file).is_file(), "the image has /{file}");
    }
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains(":65532:65532:"), "user 65532 exists in the image: {passwd}");

    // The cluster and the emulated AWS account, with the chart's RBAC for the controller's identity.
    let env = Env::start_with_users(&[(secrets::SERVICE_ACCOUNT_TOKEN, SA_USER, "system:serviceaccounts")]).await;
    let metrics_port = free_port();
    let docs = chart_objects(json!({
        "clusterName": "image-test",
        "region": "us-east-1",
        "serviceAccount": { "create": false, "name": "tgbind" },
        "metrics": { "port": metrics_port },
        "leaderElection": { "leaseDuration": "15s", "renewInterval": "2s" },
    }));
    apply_rbac(&env, &docs).await;
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], json!(chart_image));
    assert!(container["command"].is_null(), "the chart runs the image's entrypoint");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], json!(true));
    let chart_env = container_env(container, "tgbind-image-0");
    let lease_name = chart_env.iter().find(|(k, _)| k == "LEASE_NAME").map(|(_, v)| v.clone()).unwrap();

    // What the kubelet mounts: the ServiceAccount files, IRSA's web identity token, resolv.conf.
    put(
        &rootfs,
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        secrets::SERVICE_ACCOUNT_TOKEN,
    );
    let ca = std::fs::read_to_string(env.api.ca_path()).unwrap();
    put(&rootfs, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", &ca);
    put(&rootfs, "/var/run/secrets/kubernetes.io/serviceaccount/namespace", NS);
    put(
        &rootfs,
        "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    );
    let resolv =
        format!("search {NS}.svc.cluster.local svc.cluster.local cluster.local ec2.internal\nnameserver {DNS_IP}\noptions ndots:5\n");
    put(&rootfs, "/etc/resolv.conf", &resolv);
    let loopback = Ipv4Addr::LOCALHOST;
    let dns = DnsServer::start(
        DNS_IP,
        &[
            ("kubernetes.default.svc.cluster.local", loopback),
            ("elasticloadbalancing.us-east-1.amazonaws.com", loopback),
            ("ec2.us-east-1.amazonaws.com", loopback),
            ("sts.us-east-1.amazonaws.com", loopback),
        ],
    )
    .expect("DNS server on port 53");

    // The Service, its endpoints and a binding, as the user would have them.
    let arn = env.target_group("image").await;
    env.service("web", &[("http", 80, 8080)]).await;
    env.slice("web-1", "web", "http", 8080, &[("10.70.0.1", true), ("10.70.0.2", true)])
        .await;
    env.binding("web", Spec::ip("web", 80, &arn)).await;

    // The container's env: the image's, then the chart's; the kubelet's service env; what EKS
    // injects for IRSA. The API server is reached by the name `kubernetes`, through the search
    // list; AWS by its endpoint names, through DNS, at moto's port.
    let moto = env.moto.port;
    let mut vars: Vec<(String, String)> = process["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    vars.extend(chart_env);
    vars.extend(
        [
            ("KUBERNETES_SERVICE_HOST", "kubernetes".to_string()),
            ("KUBERNETES_SERVICE_PORT", env.api.port.to_string()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/tgbind-controller".to_string()),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token".to_string(),
            ),
            (
                "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                format!("http://elasticloadbalancing.us-east-1.amazonaws.com:{moto}"),
            ),
            ("AWS_ENDPOINT_URL_EC2", format!("http://ec2.us-east-1.amazonaws.com:{moto}")),
            ("AWS_ENDPOINT_URL_STS", format!("http://sts.us-east-1.amazonaws.com:{moto}")),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let log = out.path().join("image-controller.log");
    // As a container runtime does: the image's root read-only (the chart's readOnlyRootFilesystem),
    // a fresh /dev with the usual devices, /proc.
    std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    std::fs::create_dir_all(rootfs.join("proc")).unwrap();
    let script = format!(
        "set -e; R={}; mount --bind \"$R\" \"$R\"; mount -o remount,bind,ro \"$R\"; \
         mount -t tmpfs -o mode=755 tmpfs \"$R/dev\"; \
         for d in null zero random urandom; do touch \"$R/dev/$d\"; mount --bind /dev/$d \"$R/dev/$d\"; done; \
         mount -t proc proc \"$R/proc\"; \
         exec chroot --userspec={}:{} \"$R\" {}",
        rootfs.display(),
        process["user"]["uid"],
        process["user"]["gid"],
        image_args.join(" "),
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", &script])
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the image's entrypoint");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let http = |path: &str| -> Option<String> {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{metrics_port}{path}")])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };

    let started = Instant::now();
    loop {
        if env.ready("web").await.is_some_and(|(s, _)| s == "True") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the containerized controller exited ({status}):\n{}", logs());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "binding not Ready within 60 s:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let expected = ["10.70.0.1:8080", "10.70.0.2:8080"];
    env.wait_for_targets("targets registered from the image", Duration::from_secs(20), &arn, &expected)
        .await;
    assert!(http("/healthz").is_some(), "/healthz answers");
    let metrics = http("/metrics").expect("/metrics answers");
    assert!(metrics.contains("tgbind_leader 1"), "{metrics}");
    let asked = dns.questions();
    for name in [
        "kubernetes.default.svc.cluster.local A",
        "elasticloadbalancing.us-east-1.amazonaws.com A",
        "sts.us-east-1.amazonaws.com A",
    ] {
        assert!(asked.iter().any(|q| q == name), "{name} was resolved through DNS: {asked:?}");
    }
    assert!(
        asked
            .iter()
            .any(|q| q.starts_with("elasticloadbalancing.us-east-1.amazonaws.com.") && q.ends_with("svc.cluster.local A")),
        "the search list was walked first, as ndots:5 asks: {asked:?}"
    );

    // SIGTERM with a standby waiting: the lease is released and taken at once, not after 15 s.
    let lease = [
        ("LEASE_NAME", lease_name.as_str()),
        ("LEASE_DURATION", "15s"),
        ("LEASE_RENEW", "2s"),
    ];
    let standby = Controller::start(&env, "standby", &lease);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!standby.is_leader(), "the image's controller leads");
    let term = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the controller cleanly: {status}\n{}", logs());
    wait_for("the standby takes the released lease", Duration::from_secs(8), || async {
        standby.is_leader()
    })
    .await;
    let handover = term.elapsed();
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), NS);
    let holder = leases.get(&lease_name).await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("standby"));
    eprintln!(
        "image: Ready {:.1} s after start; SIGTERM -> standby leading in {:.2} s; {} DNS questions",
        (term - started).as_secs_f64(),
        handover.as_secs_f64(),
        asked.len()
    );
    tgbind_testkit::logs::keep_log(&log, "controller");
}
