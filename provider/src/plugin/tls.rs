//! AutoMTLS. Terraform hands us its client certificate in `PLUGIN_CLIENT_CERT`; we make a
//! throw-away server certificate, send it in the handshake line, and accept exactly that client
//! certificate (pinned by DER). Terraform's certificate is ECDSA P-521 and marked as a CA, which
//! webpki refuses as an end entity, so the pin replaces path validation while signatures are still
//! checked with aws-lc-rs (ring cannot verify P-521).
//!
//! Everything else (key generation, key exchange, ciphers, randomness) uses ring: aws-lc's random
//! generator seeds itself from CPU jitter on first use, which costs ~20 ms per process start, and
//! Terraform starts a provider several times per run.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

pub struct ServerIdentity {
    pub cert_der: CertificateDer<'static>,
    pub key_der: PrivateKeyDer<'static>,
}

/// An ECDSA P-256 key held by ring, signing for rcgen (so certificate generation never touches
/// aws-lc's slow-to-seed random generator, whatever rcgen's own crypto backend is).
struct RingEcdsaKey {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl rcgen::PublicKeyData for RingEcdsaKey {
    fn der_bytes(&self) -> &[u8] {
        use ring::signature::KeyPair;
        self.pair.public_key().as_ref()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RingEcdsaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.pair
            .sign(&self.rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A fresh self-signed server certificate for `localhost` (the name go-plugin's client expects).
pub fn generate_server_identity() -> anyhow::Result<ServerIdentity> {
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| anyhow::anyhow!("ECDSA key generation failed"))?;
    let pair =
        ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|e| anyhow::anyhow!("generated key rejected: {e}"))?;
    // rcgen picks serial numbers itself only when it has a crypto back end of its own.
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, &mut serial).map_err(|_| anyhow::anyhow!("no randomness for a serial number"))?;
    serial[0] &= 0x7f; // positive, as X.509 requires
    let key = RingEcdsaKey { pair, rng };
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "tgbind");
    // go-plugin's client puts this certificate in its root pool, so it signs itself as a CA.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec())),
    })
}

/// Parses the PEM Terraform passes in `PLUGIN_CLIENT_CERT`.
pub fn parse_client_cert(pem: &str) -> anyhow::Result<CertificateDer<'static>> {
    let mut reader = pem.as_bytes();
    let first = rustls_pemfile::certs(&mut reader).next();
    match first {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(anyhow::anyhow!("PLUGIN_CLIENT_CERT is not a valid PEM certificate: {e}")),
        None => Err(anyhow::anyhow!("PLUGIN_CLIENT_CERT holds no PEM certificate")),
    }
}

/// Accepts one client certificate, byte for byte, and verifies the handshake signatures made with it.
#[derive(Debug)]
pub struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

/// ring for the handshake, aws-lc-rs for signature verification (P-521 included).
pub fn crypto_provider() -> CryptoProvider {
    CryptoProvider {
        signature_verification_algorithms: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
        ..rustls::crypto::ring::default_provider()
    }
}

/// The server TLS configuration: our identity, the pinned client, HTTP/2 for gRPC.
pub fn server_config(identity: &ServerIdentity, client_cert: CertificateDer<'static>) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(crypto_provider());
    let verifier = Arc::new(PinnedClientCert {
        pinned: client_cert,
        provider: provider.clone(),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der.clone()], identity.key_der.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
