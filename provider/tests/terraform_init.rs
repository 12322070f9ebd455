//! Installing the provider the way users do: `terraform init` from a provider mirror, with
//! checksums and a lock file, never `dev_overrides`. `scripts/release-provider.sh` packages the
//! binary cargo built (zip, manifest, SHA256SUMS) and lays out a mirror; Terraform installs from it
//! as a `filesystem_mirror` and as a `network_mirror` served over HTTPS on loopback (a private CA
//! trusted through `SSL_CERT_FILE`), then applies, re-plans empty and destroys. The lock file
//! records the `h1:` hash the release script computed for the zip.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{terraforms, Moto, Workdir};
use tgbind_testkit::https::StaticHttps;

const VERSION: &str = "0.1.0";
const RELEASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/release-provider.sh");

/// Runs the release script on the test build; returns (dist dir, mirror dir, the zip's h1 hash).
fn release(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (dist, mirror) = (dir.join("dist"), dir.join("mirror"));
    let out = Command::new("bash")
        .arg(RELEASE)
        .args(["--version", VERSION, "--binary", env!("CARGO_BIN_EXE_terraform-provider-elbv2")])
        .arg("--out")
        .arg(&dist)
        .arg("--mirror")
        .arg(&mirror)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "release-provider.sh: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let h1 = std::fs::read_to_string(dist.join(format!("terraform-provider-elbv2_{VERSION}_H1"))).unwrap();
    (dist, mirror, h1.trim().to_string())
}

#[test]
fn the_release_has_the_registry_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (dist, mirror, h1) = release(dir.path());
    let base = format!("terraform-provider-elbv2_{VERSION}");
    let zip = dist.join(format!("{base}_linux_amd64.zip"));
    let listing = Command::new("unzip").arg("-Z1").arg(&zip).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        format!("terraform-provider-elbv2_v{VERSION}")
    );
    let manifest = std::fs::read_to_string(dist.join(format!("{base}_manifest.json"))).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["metadata"]["protocol_versions"], serde_json::json!(["6.0"]));
    let sums = std::fs::read_to_string(dist.join(format!("{base}_SHA256SUMS"))).unwrap();
    assert_eq!(sums.lines().count(), 2, "the zip and the manifest: {sums}");
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{base}_SHA256SUMS"))
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "SHA256SUMS verifies: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(h1.starts_with("h1:"), "{h1}");
    let index = std::fs::read_to_string(mirror.join("registry.terraform.io/tgbind/elbv2/index.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    assert!(index["versions"][VERSION].is_object(), "{index}");

    // The same binary packaged twice gives the same hashes: the zip is reproducible.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(release(again.path()).2, h1);

    // --version names the version and the commit.
    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-elbv2"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(VERSION) && text.contains("commit "), "{text}");
}

/// A detached signature of SHA256SUMS when a GnuPG key is given, verifiable with that key.
#[test]
fn a_gpg_key_signs_the_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    gpg(&[
        "--quick-generate-key",
        "tgbind release test <release@example.invalid>",
        "ed25519",
        "sign",
        "1d",
    ]);
    let dist = dir.path().join("dist");
    let out = Command::new("bash")
        .arg(RELEASE)
        .args(["--version", VERSION, "--binary", env!("CARGO_BIN_EXE_terraform-provider-elbv2")])
        .arg("--out")
        .arg(&dist)
        .args(["--gpg-key", "release@example.invalid"])
        .env("GNUPGHOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sums = dist.join(format!("terraform-provider-elbv2_{VERSION}_SHA256SUMS"));
    let sig = dist.join(format!("terraform-provider-elbv2_{VERSION}_SHA256SUMS.sig"));
    gpg(&["--verify", sig.to_str().unwrap(), sums.to_str().unwrap()]);
}

fn init_apply_plan_destroy(w: &Workdir, moto: &Moto, h1: &str, how: &str) {
    w.write_config(&format!(
        "resource \"elbv2_target_group\" \"app\" {{\n  name     = \"init-{how}\"\n  port     = 80\n  protocol = \"HTTP\"\n  vpc_id   = \"{}\"\n}}\n",
        moto.default_vpc()
    ));
    // Pin the version as users do.
    let main = std::fs::read_to_string(w.path().join("main.tf")).unwrap().replace(
        "elbv2 = { source = \"tgbind/elbv2\" }",
        &format!("elbv2 = {{\n      source  = \"tgbind/elbv2\"\n      version = \"{VERSION}\"\n    }}"),
    );
    w.write_raw("main.tf", &main);
    let init = w.terraform(&["init", "-input=false", "-no-color"]);
    assert!(init.ok, "[{}] init from the {how} mirror:\n{}", w.tf.version, init.all());
    let lock = std::fs::read_to_string(w.path().join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains("provider \"registry.terraform.io/tgbind/elbv2\"") && lock.contains(&format!("\"{VERSION}\"")),
        "[{}] {lock}",
        w.tf.version
    );
    assert!(
        lock.contains(h1),
        "[{}] the lock file records our h1 hash {h1}:\n{lock}",
        w.tf.version
    );
    w.apply();
    w.assert_no_changes(&format!("installed from the {how} mirror"));
    let destroy = w.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(destroy.ok, "[{}] destroy: {}", w.tf.version, destroy.all());
}

#[tokio::test]
async fn terraform_init_installs_from_filesystem_and_network_mirrors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mirror, h1) = release(dir.path());
    let https = StaticHttps::start(&mirror);
    for tf in terraforms() {
        let moto = Moto::start();
        let filesystem = format!(
            "  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/tgbind/elbv2\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/tgbind/elbv2\"]\n  }}\n",
            mirror.display()
        );
        let w = Workdir::with_installation(&tf, &moto, &filesystem);
        init_apply_plan_destroy(&w, &moto, &h1, "filesystem");

        let network = format!(
            "  network_mirror {{\n    url     = \"{}\"\n    include = [\"registry.terraform.io/tgbind/elbv2\"]\n  }}\n",
            https.url()
        );
        let mut w = Workdir::with_installation(&tf, &moto, &network);
        w.set_env("SSL_CERT_FILE", https.ca_file.to_str().unwrap());
        init_apply_plan_destroy(&w, &moto, &h1, "network");
    }
}
