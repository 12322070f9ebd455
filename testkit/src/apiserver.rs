//! etcd + kube-apiserver on loopback, envtest-style: no kubelet, scheduler or controllers, so tests
//! create Services, EndpointSlices, Pods and Nodes as objects. Token auth (`system:masters`), TLS with
//! the apiserver's self-signed certificate, everything in a temporary directory; stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::moto::{free_port, require};

pub const ADMIN_TOKEN: &str = "tgbind-test-admin";

/// Where scripts/build-kube-apiserver.sh leaves `kube-apiserver` and `etcd`.
pub fn kube_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TGBIND_KUBE_BIN") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("TGBIND_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/tgbind"));
    cache.join("kube/bin")
}

pub struct ApiServer {
    etcd: Child,
    apiserver: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} did not come up within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl_ok(url: &str, token: Option<&str>) -> bool {
    let mut cmd = Command::new("curl");
    cmd.args(["-skf", "-o", "/dev/null", "--max-time", "2", url]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

impl ApiServer {
    pub fn start() -> ApiServer {
        Self::start_with_users(&[])
    }

    /// Starts with extra static token users: (token, user name, groups). A user named
    /// `system:serviceaccount:<ns>:<name>` is matched by RBAC subjects of kind ServiceAccount.
    pub fn start_with_users(users: &[(&str, &str, &str)]) -> ApiServer {
        let bin = kube_bin_dir();
        let apiserver_bin = require(bin.join("kube-apiserver"), "kube-apiserver (run scripts/build-kube-apiserver.sh)");
        let etcd_bin = require(bin.join("etcd"), "etcd (run scripts/build-kube-apiserver.sh)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (etcd_port, peer_port, port) = (free_port(), free_port(), free_port());

        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(d.join("sa.key"))
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl genrsa failed");
        let mut tokens = format!("{ADMIN_TOKEN},admin,admin,\"system:masters\"\n");
        for (token, user, groups) in users {
            tokens.push_str(&format!("{token},{user},{user},\"{groups}\"\n"));
        }
        std::fs::write(d.join("tokens.csv"), tokens).unwrap();

        let etcd = Command::new(etcd_bin)
            .arg("--data-dir")
            .arg(d.join("etcd-data"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("etcd.log")).unwrap())
            .spawn()
            .expect("start etcd");
        let mut server = ApiServer {
            etcd,
            apiserver: Command::new("true").spawn().unwrap(),
            port,
            dir,
        };
        wait_until("etcd", Duration::from_secs(30), || {
            curl_ok(&format!("http://127.0.0.1:{etcd_port}/health"), None)
        });

        let d = server.dir.path().to_path_buf();
        server.apiserver = Command::new(apiserver_bin)
            .args([
                &format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                &format!("--secure-port={port}"),
                &format!("--cert-dir={}", d.join("certs").display()),
                &format!("--token-auth-file={}", d.join("tokens.csv").display()),
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                &format!("--service-account-key-file={}", d.join("sa.key").display()),
                &format!("--service-account-signing-key-file={}", d.join("sa.key").display()),
                "--service-cluster-ip-range=10.0.0.0/24",
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("apiserver.log")).unwrap())
            .spawn()
            .expect("start kube-apiserver");
        wait_until("kube-apiserver", Duration::from_secs(60), || {
            curl_ok(&format!("https://127.0.0.1:{port}/readyz"), Some(ADMIN_TOKEN))
        });
        std::fs::write(server.kubeconfig_path(), server.kubeconfig(ADMIN_TOKEN)).unwrap();
        server
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("certs/apiserver.crt")
    }

    /// A kubeconfig for `token`.
    pub fn kubeconfig(&self, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: local\n  context: {{cluster: local, user: user, namespace: default}}\ncurrent-context: local\n",
            self.url(),
            self.ca_path().display()
        )
    }

    /// The admin kubeconfig's path.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn log_path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
