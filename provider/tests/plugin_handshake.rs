//! The provider process as go-plugin starts it: environment checks, the handshake line, and
//! AutoMTLS with the client certificate pinned (Terraform's is ECDSA P-521 and marked CA).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client identity like the one Terraform makes: ECDSA P-521, marked as a CA.
fn terraform_like_client_cert() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

struct Provider {
    child: Child,
    socket: String,
    server_cert: Vec<u8>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(client_cert_pem: &str) -> Provider {
    let mut child = Command::new(BIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", client_cert_pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line: {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "unix"]);
    assert_eq!(fields[4], "grpc");
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .expect("unpadded base64 cert");
    Provider {
        child,
        socket: fields[3].to_string(),
        server_cert,
    }
}

/// Trusts exactly the certificate from the handshake line, as go-plugin's client does.
#[derive(Debug)]
struct PinnedServer(Vec<u8>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        ee: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        assert_eq!(ee.as_ref(), self.0.as_slice(), "server presented the certificate it announced");
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

/// Connects over TLS with `identity` (or none), sends the HTTP/2 preface and reads the answer.
/// The server's SETTINGS frame means the connection was accepted.
async fn h2_answer(p: &Provider, identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(p.server_cert.clone(), provider)));
    let mut config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let stream = tokio::net::UnixStream::connect(&p.socket).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = connector
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
    let (pem, der, key) = terraform_like_client_cert();
    let p = start_provider(&pem);

    let frame = h2_answer(&p, Some((der.clone(), key.clone_key())))
        .await
        .expect("the pinned client is served");
    assert_eq!(frame[3], 0x04, "first server frame is SETTINGS: {frame:?}");

    let (_, other_der, other_key) = terraform_like_client_cert();
    let refused = h2_answer(&p, Some((other_der, other_key))).await;
    assert!(refused.is_err(), "a client with another certificate was served: {refused:?}");

    let refused = h2_answer(&p, None).await;
    assert!(refused.is_err(), "a client without a certificate was served: {refused:?}");

    // The refusals did not take the server down.
    let frame = h2_answer(&p, Some((der, key))).await.expect("still serving the pinned client");
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
    let (pem, _, _) = terraform_like_client_cert();
    let p = start_provider(&pem);
    let pid = p.child.id() as i32;
    // SAFETY: signalling our own child process.
    let rc = unsafe { libc_kill(pid, 2) };
    assert_eq!(rc, 0);
    std::thread::sleep(Duration::from_millis(300));
    let mut p = p;
    assert!(p.child.try_wait().unwrap().is_none(), "the provider exited on SIGINT");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
