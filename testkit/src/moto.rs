//! A real `moto_server` (emulated AWS) on a free loopback port, stopped on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tgbind_aws::elbv2;

/// Where scripts/setup.sh puts the Python tools.
pub fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("TGBIND_VENV") {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/tgbind/venv")
}

pub fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(path.exists(), "{what} not found at {}: run scripts/setup.sh first", path.display());
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The suite's static credentials (`secrets`), never the instance-metadata chain.
pub fn test_credentials() -> elbv2::config::Credentials {
    elbv2::config::Credentials::new(
        crate::secrets::AWS_ACCESS_KEY_ID,
        crate::secrets::AWS_SECRET_ACCESS_KEY,
        None,
        None,
        "tests",
    )
}

/// An ELBv2 client for the emulated API at `endpoint` (moto, or elb-dataplane in front of it).
pub fn elbv2_client_at(endpoint: &str, credentials: elbv2::config::Credentials) -> elbv2::Client {
    let config = elbv2::Config::builder()
        .behavior_version_latest()
        .region(elbv2::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .build();
    elbv2::Client::from_conf(config)
}

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = require(venv().join("bin/moto_server"), "moto_server");
        // A port found free can be taken before moto binds it (suites run in parallel): moto then
        // exits, and it is started again on another port.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(crate::logs::kept_or_null("moto"))
                .spawn()
                .expect("start moto_server");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                // A connection to itself is no listener: with nothing bound yet, a connect to a port
                // of the ephemeral range can pick that same port as its source and "succeed".
                let listening = TcpStream::connect(("127.0.0.1", port)).is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok());
                if listening && matches!(child.try_wait(), Ok(None)) {
                    return Moto { child, port };
                }
                assert!(Instant::now() < deadline, "moto_server did not listen on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("moto_server exited three times at start (see its log)");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A raw AWS request; enough for the few EC2 and ACM calls tests need without pulling in
    /// more SDK crates. moto does not check signatures, only reads the credential scope.
    fn post(&self, service: &str, content_type: &str, extra_headers: &str, body: &str) -> String {
        self.post_as("test", service, content_type, extra_headers, body)
    }

    /// A raw request signed (in name only) with `access_key`: moto serves it from that key's
    /// account (an assumed role's keys reach the role's account).
    fn post_as(&self, access_key: &str, service: &str, content_type: &str, extra_headers: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let req = format!(
            "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: {content_type}\r\n{extra_headers}\
             Authorization: AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// A query-protocol request (form-encoded), as EC2 takes them.
    pub fn query(&self, service: &str, body: &str) -> String {
        self.post(service, "application/x-www-form-urlencoded", "", body)
    }

    /// Credentials of `role_arn` from STS AssumeRole (moto lets anyone assume any role, in any
    /// account: the account is the role's).
    pub fn assume_role(&self, role_arn: &str) -> elbv2::config::Credentials {
        let xml = self.query(
            "sts",
            &format!("Action=AssumeRole&Version=2011-06-15&RoleSessionName=tgbind-tests&RoleArn={role_arn}"),
        );
        let value = |tag: &str| {
            Self::xml_values(&xml, tag)
                .into_iter()
                .next()
                .unwrap_or_else(|| panic!("no {tag} in {xml}"))
        };
        elbv2::config::Credentials::new(
            value("AccessKeyId"),
            value("SecretAccessKey"),
            Some(value("SessionToken")),
            None,
            "assumed",
        )
    }

    /// The default VPC of the account `credentials` belong to.
    pub fn default_vpc_of(&self, credentials: &elbv2::config::Credentials) -> String {
        let xml = self.post_as(
            credentials.access_key_id(),
            "ec2",
            "application/x-www-form-urlencoded",
            "",
            "Action=DescribeVpcs&Version=2016-11-15",
        );
        Self::xml_values(&xml, "vpcId").into_iter().next().expect("a VPC in DescribeVpcs")
    }

    /// The values of every `<tag>` element in an XML answer, in order.
    fn xml_values(xml: &str, tag: &str) -> Vec<String> {
        let open = format!("<{tag}>");
        xml.match_indices(&open)
            .filter_map(|(i, _)| {
                let start = i + open.len();
                xml[start..].find('<').map(|end| xml[start..start + end].to_string())
            })
            .collect()
    }

    /// The default VPC moto creates in us-east-1.
    pub fn default_vpc(&self) -> String {
        let xml = self.query("ec2", "Action=DescribeVpcs&Version=2016-11-15");
        Self::xml_values(&xml, "vpcId").into_iter().next().expect("a VPC in DescribeVpcs")
    }

    /// The default VPC's subnets, one per availability zone, sorted.
    pub fn default_subnets(&self) -> Vec<String> {
        let xml = self.query("ec2", "Action=DescribeSubnets&Version=2016-11-15");
        let mut subnets = Self::xml_values(&xml, "subnetId");
        subnets.sort();
        subnets.dedup();
        assert!(subnets.len() >= 2, "moto has default subnets: {xml}");
        subnets
    }

    /// The default VPC's default security group.
    pub fn default_security_group(&self) -> String {
        let xml = self.query("ec2", "Action=DescribeSecurityGroups&Version=2016-11-15");
        Self::xml_values(&xml, "groupId").into_iter().next().expect("a security group")
    }

    /// Requests an ACM certificate (moto issues it at once) and returns its ARN.
    pub fn certificate(&self, domain: &str) -> String {
        let out = self.post(
            "acm",
            "application/x-amz-json-1.1",
            "X-Amz-Target: CertificateManager.RequestCertificate\r\n",
            &format!("{{\"DomainName\":\"{domain}\"}}"),
        );
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("ACM answer {out}: {e}"));
        json["CertificateArn"].as_str().expect("a certificate ARN").to_string()
    }

    /// An ELBv2 client for out-of-band changes, with static test credentials (never the
    /// instance-metadata chain: tests stay on loopback).
    pub async fn elbv2(&self) -> elbv2::Client {
        self.elbv2_with(test_credentials())
    }

    /// An ELBv2 client with these credentials (another account's, from `assume_role`).
    pub fn elbv2_with(&self, credentials: elbv2::config::Credentials) -> elbv2::Client {
        elbv2_client_at(&self.endpoint(), credentials)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
