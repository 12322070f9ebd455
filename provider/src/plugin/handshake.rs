//! go-plugin's start-up contract, as pure functions over the environment: the magic cookie, the
//! protocol version negotiation and the handshake line Terraform reads from stdout.

use base64::Engine;

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
pub const PROTOCOL_VERSION: u32 = 6;
/// go-plugin's own (core) protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeError {
    NotLaunchedByTerraform,
    UnsupportedProtocol { offered: String },
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::NotLaunchedByTerraform => write!(
                f,
                "This binary is a Terraform plugin. It is not meant to be executed directly;\n\
                 Terraform starts it when a configuration uses the elbv2 provider.\n\
                 To debug it, run it with --debug and use the TF_REATTACH_PROVIDERS value it prints."
            ),
            HandshakeError::UnsupportedProtocol { offered } => write!(
                f,
                "This provider speaks Terraform plugin protocol {PROTOCOL_VERSION} only, but the calling \
                 Terraform offered protocol version(s) {offered:?}. Use Terraform v1.0 or later."
            ),
        }
    }
}

/// Checks the cookie and picks protocol 6 from `PLUGIN_PROTOCOL_VERSIONS` (comma-separated).
/// `lookup` reads an environment variable (injected for tests).
pub fn negotiate(lookup: impl Fn(&str) -> Option<String>) -> Result<u32, HandshakeError> {
    if lookup(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotLaunchedByTerraform);
    }
    let offered = lookup("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_default();
    let speaks_six = offered
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == PROTOCOL_VERSION);
    if speaks_six {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::UnsupportedProtocol { offered })
    }
}

/// `1|6|unix|<socket>|grpc|<cert>`: the cert is the server leaf's DER, base64 without padding;
/// empty when serving without TLS.
pub fn handshake_line(socket: &std::path::Path, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|unix|{}|grpc|{cert}", socket.display())
}

/// The `TF_REATTACH_PROVIDERS` value for `--debug` mode.
pub fn reattach_json(provider_address: &str, socket: &std::path::Path, pid: u32) -> String {
    serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "unix", "String": socket.display().to_string() }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn refuses_without_magic_cookie() {
        assert_eq!(
            negotiate(env(&[("PLUGIN_PROTOCOL_VERSIONS", "6")])),
            Err(HandshakeError::NotLaunchedByTerraform)
        );
        assert_eq!(
            negotiate(env(&[(MAGIC_COOKIE_KEY, "wrong"), ("PLUGIN_PROTOCOL_VERSIONS", "6")])),
            Err(HandshakeError::NotLaunchedByTerraform)
        );
    }

    #[test]
    fn picks_six_when_offered() {
        assert_eq!(
            negotiate(env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE), ("PLUGIN_PROTOCOL_VERSIONS", "5,6")])),
            Ok(6)
        );
        assert_eq!(
            negotiate(env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE), ("PLUGIN_PROTOCOL_VERSIONS", " 6 ")])),
            Ok(6)
        );
    }

    #[test]
    fn refuses_old_terraform_with_clear_message() {
        let err = negotiate(env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE), ("PLUGIN_PROTOCOL_VERSIONS", "4,5")])).unwrap_err();
        assert!(err.to_string().contains("protocol 6 only"), "{err}");
        assert!(err.to_string().contains("\"4,5\""), "{err}");
    }

    #[test]
    fn handshake_line_has_six_fields_and_unpadded_cert() {
        let line = handshake_line(std::path::Path::new("/tmp/x/plugin.sock"), Some(&[1, 2, 3, 4]));
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields, ["1", "6", "unix", "/tmp/x/plugin.sock", "grpc", "AQIDBA"]);
    }
}
