//! A go-plugin-style client for the provider process: starts it with a Terraform-like P-521 client
//! certificate, reads the handshake line and opens gRPC channels over the Unix socket with mTLS.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

pub const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

pub struct ClientIdentity {
    pub pem: String,
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// ECDSA P-521 and marked as a CA, like the certificate Terraform makes. Made with the openssl CLI so
/// the tests build the provider with exactly the dependency features it ships with.
pub fn terraform_like_identity() -> ClientIdentity {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, cert_path) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-keyout"])
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req failed");
    let pem = std::fs::read_to_string(&cert_path).unwrap();
    let der = rustls_pemfile::certs(&mut pem.as_bytes()).next().unwrap().unwrap();
    let key = rustls_pemfile::private_key(&mut std::fs::read(&key_path).unwrap().as_slice())
        .unwrap()
        .unwrap();
    ClientIdentity { pem, der, key }
}

pub struct PluginProcess {
    pub child: Child,
    pub socket: String,
    pub server_cert: Vec<u8>,
    pub identity: ClientIdentity,
    /// Time from spawn to the handshake line.
    pub handshake: Duration,
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed provider cannot clean up its socket directory.
        if let Some(dir) = std::path::Path::new(&self.socket).parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl PluginProcess {
    pub fn start(bin: &str) -> PluginProcess {
        let identity = terraform_like_identity();
        let started = Instant::now();
        let mut child = Command::new(bin)
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &identity.pem)
            .env("AWS_ACCESS_KEY_ID", tgbind_testkit::secrets::AWS_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", tgbind_testkit::secrets::AWS_SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(tgbind_testkit::logs::kept_or_null("provider"))
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let handshake = started.elapsed();
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        assert_eq!(fields.len(), 6, "handshake line: {line:?}");
        let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD.decode(fields[5]).unwrap();
        PluginProcess {
            child,
            socket: fields[3].to_string(),
            server_cert,
            identity,
            handshake,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A TLS client that trusts this process's announced certificate and presents `identity`.
    pub fn tls_connector(&self, identity: Option<&ClientIdentity>) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServer(self.server_cert.clone(), provider)));
        let mut config = match identity {
            Some(id) => builder.with_client_auth_cert(vec![id.der.clone()], id.key.clone_key()).unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// A gRPC channel over the socket, authenticated with the pinned client certificate.
    pub async fn channel(&self) -> tonic::transport::Channel {
        let connector = self.tls_connector(Some(&self.identity));
        let socket = self.socket.clone();
        tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let (connector, socket) = (connector.clone(), socket.clone());
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), stream).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
                }
            }))
            .await
            .expect("connect to the provider")
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Waits for the process to exit; returns how long it took, or None on timeout.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.child.try_wait().unwrap().is_some() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
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
        if ee.as_ref() == self.0.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("server certificate differs from the handshake's".into()))
        }
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
