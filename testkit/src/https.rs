//! A static HTTPS file server on loopback, with its own CA: what a provider network mirror (or a
//! chart repository) looks like to a client that trusts that CA through `SSL_CERT_FILE`. Python's
//! `http.server` behind TLS; certificates made with the openssl CLI. Stopped on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::moto::free_port;

pub struct StaticHttps {
    child: Child,
    pub port: u16,
    /// The CA that signed the server's certificate (PEM), for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    _certs: tempfile::TempDir,
}

const SERVE: &str = r#"
import functools, http.server, ssl, sys
port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl StaticHttps {
    /// Serves the files under `root` at `https://127.0.0.1:<port>/`.
    pub fn start(root: &Path) -> StaticHttps {
        let certs = tempfile::tempdir().unwrap();
        let d = certs.path();
        let ca = [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=tgbind test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ];
        openssl(&ca, d);
        let request = [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        openssl(&request, d);
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let sign = [
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "server.pem",
            "-extfile",
            "san.ext",
        ];
        openssl(&sign, d);
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", SERVE, &port.to_string()])
            .arg(root)
            .arg(d.join("server.pem"))
            .arg(d.join("server.key"))
            .stdout(Stdio::null())
            .stderr(crate::logs::kept_or_null("https-mirror"))
            .spawn()
            .expect("start the HTTPS file server");
        let server = StaticHttps {
            child,
            port,
            ca_file: d.join("ca.pem"),
            _certs: certs,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the HTTPS file server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

impl Drop for StaticHttps {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
