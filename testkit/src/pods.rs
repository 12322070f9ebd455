//! Pods that serve: real HTTP servers on their own loopback addresses (127.0.0.x), each answering
//! every request with its name, as a pod behind a Service would. Deleting one works as a kubelet
//! does after SIGTERM with a termination grace: the server keeps serving for the grace, then stops
//! (listener closed, open connections cut). `/healthz` can be made to fail, to show unhealthy
//! targets. The Pod and EndpointSlice objects that go with them are the tests' to write.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The runtime the serving pods and load generators of a test process run on, apart from the
/// test's own (often single-threaded) runtime, so they keep serving while a test blocks.
pub fn background() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("testkit-traffic")
            .enable_all()
            .build()
            .expect("a runtime for serving pods")
    })
}

#[derive(Default)]
struct PodState {
    failing_health: AtomicBool,
    served: AtomicU64,
}

pub struct ServingPod {
    pub name: String,
    pub address: SocketAddr,
    state: Arc<PodState>,
    server: tokio::task::AbortHandle,
}

impl ServingPod {
    /// Serves on `ip:port` (any 127.0.0.0/8 address binds on Linux).
    pub fn start(name: &str, ip: Ipv4Addr, port: u16) -> std::io::Result<ServingPod> {
        let socket = std::net::TcpListener::bind((ip, port))?;
        socket.set_nonblocking(true)?;
        let address = socket.local_addr()?;
        let state = Arc::new(PodState::default());
        let server = {
            let _guard = background().enter();
            let socket = tokio::net::TcpListener::from_std(socket)?;
            background()
                .spawn(serve_identity(name.to_string(), socket, state.clone()))
                .abort_handle()
        };
        Ok(ServingPod {
            name: name.to_string(),
            address,
            state,
            server,
        })
    }

    /// The Pod IP.
    pub fn ip(&self) -> String {
        self.address.ip().to_string()
    }

    /// Requests answered so far (health checks included).
    pub fn served(&self) -> u64 {
        self.state.served.load(Ordering::Relaxed)
    }

    /// Makes `/healthz` answer 500 (or 200 again).
    pub fn fail_health_checks(&self, failing: bool) {
        self.state.failing_health.store(failing, Ordering::Relaxed);
    }

    /// "kubectl delete pod": keeps serving for `grace`, then stops.
    pub fn terminate(&self, grace: Duration) {
        let server = self.server.clone();
        background().spawn(async move {
            tokio::time::sleep(grace).await;
            server.abort();
        });
    }

    /// Stops at once (a crash).
    pub fn kill(&self) {
        self.server.abort();
    }
}

impl Drop for ServingPod {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves until aborted; aborting drops the connection set, which cuts every open connection.
async fn serve_identity(name: String, socket: tokio::net::TcpListener, state: Arc<PodState>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = socket.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (name, state) = (name.clone(), state.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        state.served.fetch_add(1, Ordering::Relaxed);
                        let failing = request.uri().path() == "/healthz" && state.failing_health.load(Ordering::Relaxed);
                        let mut response = Response::new(Full::new(Bytes::from(format!("{name}\n"))));
                        if failing {
                            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves `socket` as a pod named `name` until the task is dropped (the `traffic pod` command).
pub async fn serve_as(name: String, socket: tokio::net::TcpListener) {
    serve_identity(name, socket, Arc::default()).await
}
