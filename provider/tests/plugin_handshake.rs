//! The provider process as go-plugin starts it: environment checks, the handshake line, and
//! AutoMTLS with the client certificate pinned (Terraform's is ECDSA P-521 and marked CA).

mod support;

use std::process::Command;
use std::time::Duration;

use rustls::pki_types::ServerName;
use support::plugin_client::{terraform_like_identity, ClientIdentity, PluginProcess, COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");

/// Connects over TLS with `identity` (or none), sends the HTTP/2 preface and reads the answer.
/// The server's SETTINGS frame means the connection was accepted.
async fn h2_answer(p: &PluginProcess, identity: Option<&ClientIdentity>) -> Result<Vec<u8>, String> {
    let stream = tokio::net::UnixStream::connect(&p.socket).await.map_err(|e| e.to_string())?;
    let mut tls = p
        .tls_connector(identity)
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 9];
    match tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Ok(buf),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_string()),
    }
}

#[tokio::test]
async fn pinned_client_certificate_is_served_and_others_are_refused() {
    let p = PluginProcess::start(BIN);
    let frame = h2_answer(&p, Some(&p.identity)).await.expect("the pinned client is served");
    assert_eq!(frame[3], 0x04, "first server frame is SETTINGS: {frame:?}");

    let stranger = terraform_like_identity();
    let refused = h2_answer(&p, Some(&stranger)).await;
    assert!(refused.is_err(), "a client with another certificate was served: {refused:?}");

    let refused = h2_answer(&p, None).await;
    assert!(refused.is_err(), "a client without a certificate was served: {refused:?}");

    // The refusals did not take the server down.
    let frame = h2_answer(&p, Some(&p.identity)).await.expect("still serving the pinned client");
    assert_eq!(frame[3], 0x04);
}

#[test]
fn refuses_to_run_outside_terraform() {
    let out = Command::new(BIN).env_remove("TF_PLUGIN_MAGIC_COOKIE").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not meant to be executed directly"));
    assert!(out.stdout.is_empty(), "no handshake line without the cookie");
}

#[test]
fn refuses_terraform_without_protocol_6() {
    let out = Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protocol 6 only") && err.contains("4,5"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn ignores_sigint() {
    let mut p = PluginProcess::start(BIN);
    let status = Command::new("kill").args(["-INT", &p.pid().to_string()]).status().unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.child.try_wait().unwrap().is_none(), "the provider exited on SIGINT");
}
