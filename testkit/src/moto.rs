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

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = require(venv().join("bin/moto_server"), "moto_server");
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A raw AWS query request (form-encoded); enough for the few EC2 calls tests need without
    /// pulling in another SDK crate.
    pub fn query(&self, service: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let req = format!(
            "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// The default VPC moto creates in us-east-1.
    pub fn default_vpc(&self) -> String {
        let xml = self.query("ec2", "Action=DescribeVpcs&Version=2016-11-15");
        let start = xml.find("<vpcId>").expect("a VPC in DescribeVpcs") + "<vpcId>".len();
        let end = xml[start..].find('<').unwrap() + start;
        xml[start..end].to_string()
    }

    /// An ELBv2 client for out-of-band changes, with static test credentials (never the
    /// instance-metadata chain: tests stay on loopback).
    pub async fn elbv2(&self) -> elbv2::Client {
        let config = elbv2::Config::builder()
            .behavior_version_latest()
            .region(elbv2::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(elbv2::config::Credentials::new("testing", "testing", None, None, "tests"))
            .build();
        elbv2::Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
