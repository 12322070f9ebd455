//! etcd + kube-apiserver on loopback through `scripts/local-apiserver.sh` (the one recipe the
//! quickstart uses too): no kubelet, scheduler or controllers, so tests create Services,
//! EndpointSlices, Pods and Nodes as objects. Stopped on drop.

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/local-apiserver.sh");

/// The admin token the script configures (`system:masters`).
pub use crate::secrets::ADMIN_TOKEN;

pub struct ApiServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl ApiServer {
    pub fn start() -> ApiServer {
        Self::start_with_users(&[])
    }

    /// Starts with extra static token users: (token, user name, groups). A user named
    /// `system:serviceaccount:<ns>:<name>` is matched by RBAC subjects of kind ServiceAccount.
    pub fn start_with_users(users: &[(&str, &str, &str)]) -> ApiServer {
        let dir = tempfile::tempdir().unwrap();
        if !users.is_empty() {
            let lines: String = users
                .iter()
                .map(|(token, user, groups)| format!("{token},{user},{user},\"{groups}\"\n"))
                .collect();
            std::fs::write(dir.path().join("extra-tokens.csv"), lines).unwrap();
        }
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run local-apiserver.sh");
        // Constructed before checking, so a failed start is still stopped on drop.
        let mut server = ApiServer { port: 0, dir };
        assert!(
            out.status.success(),
            "kube-apiserver did not start (build it with scripts/build-kube-apiserver.sh):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.port = std::fs::read_to_string(server.dir.path().join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
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

    /// Restarts kube-apiserver alone (same port, certificates and etcd): every watch breaks.
    pub fn restart(&self) {
        self.script("restart-apiserver");
    }

    /// Restarts with extra kube-apiserver flags (kept until the next restart).
    pub fn restart_with(&self, flags: &str) {
        self.restart_full(flags, 0);
    }

    /// Stops kube-apiserver for at least `down_seconds` before starting it again.
    pub fn restart_after_outage(&self, down_seconds: u32) {
        self.restart_full("", down_seconds);
    }

    fn restart_full(&self, flags: &str, down_seconds: u32) {
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg("restart-apiserver")
            .arg(self.dir.path())
            .env("APISERVER_EXTRA_ARGS", flags)
            .env("APISERVER_DOWN_SECONDS", down_seconds.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restart with {flags}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Compacts etcd at its current revision: a watch that resumes from an older resourceVersion
    /// gets 410 Gone and must list again. Returns the revision.
    pub fn compact_etcd(&self) -> u64 {
        self.script("compact").trim().parse().expect("a revision")
    }

    fn script(&self, command: &str) -> String {
        let out = Command::new("bash").arg(SCRIPT).arg(command).arg(self.dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "local-apiserver.sh {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The process id of `component` ("apiserver" or "etcd"), as the script recorded it.
    pub fn pid_of(&self, component: &str) -> Option<u32> {
        let recorded = std::fs::read_to_string(self.dir.path().join(format!("{component}.pid"))).ok()?;
        recorded.trim().parse().ok()
    }

    /// The admin kubeconfig the script wrote.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(SCRIPT).arg("stop").arg(self.dir.path()).status();
        crate::logs::keep_log(&self.dir.path().join("apiserver.log"), "kube-apiserver");
    }
}
