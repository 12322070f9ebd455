//! Runs the gRPC server on a Unix socket the way go-plugin expects, with AutoMTLS when Terraform
//! asks for it, and exits promptly on Shutdown.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::either::Either;
use tonic::transport::server::Connected;
use tonic::transport::Server;

use super::services::{Broker, Controller, Stdio};
use crate::framework::{ProviderDefinition, ProviderService};
use crate::proto::{plugin as goplugin, tfplugin6};

/// Large schemas and states must not hit gRPC's default 4 MB limit.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

pub struct ServeOptions {
    pub socket_dir: PathBuf,
    /// The PEM client certificate to pin; `None` serves without TLS (debug mode).
    pub client_cert_pem: Option<String>,
}

/// Turns of the scheduler the Shutdown answer gets to reach the socket before the process exits.
const SHUTDOWN_FLUSH_YIELDS: usize = 8;

/// Binds the socket, prints what the caller needs via `announce`, and serves until Shutdown.
pub async fn serve<P: ProviderDefinition>(
    definition: P,
    opts: ServeOptions,
    announce: impl FnOnce(&Path, Option<&[u8]>),
) -> anyhow::Result<()> {
    let socket = opts.socket_dir.join("plugin.sock");
    let listener = UnixListener::bind(&socket)?;

    let tls = match &opts.client_cert_pem {
        Some(pem) => {
            let client_cert = super::tls::parse_client_cert(pem)?;
            let identity = super::tls::generate_server_identity()?;
            let config = super::tls::server_config(&identity, client_cert)?;
            Some((tokio_rustls::TlsAcceptor::from(Arc::new(config)), identity.cert_der))
        }
        None => None,
    };
    announce(&socket, tls.as_ref().map(|(_, der)| der.as_ref()));

    let (conn_tx, conn_rx) = mpsc::channel::<io::Result<Conn>>(16);
    let acceptor = tls.map(|(a, _)| a);
    tokio::spawn(accept_loop(listener, acceptor, conn_tx));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;

    let (shutdown_tx, mut shutdown_rx) = mpsc::channel::<()>(1);
    let provider = tfplugin6::provider_server::ProviderServer::new(ProviderService::new(definition))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let server = Server::builder()
        .add_service(health_service)
        .add_service(provider)
        .add_service(goplugin::grpc_controller_server::GrpcControllerServer::new(Controller {
            shutdown: shutdown_tx,
        }))
        .add_service(goplugin::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(goplugin::grpc_broker_server::GrpcBrokerServer::new(Broker))
        .serve_with_incoming(ReceiverStream::new(conn_rx));
    tokio::select! {
        res = server => res?,
        _ = shutdown_rx.recv() => {
            // Let the connection task write the Shutdown answer, then leave at once: a graceful
            // stop would wait for the idle stdio and broker streams, and Terraform waits for this
            // process to exit after every command (go-plugin ignores the answer's fate anyway).
            for _ in 0..SHUTDOWN_FLUSH_YIELDS {
                tokio::task::yield_now().await;
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

async fn accept_loop(listener: UnixListener, tls: Option<tokio_rustls::TlsAcceptor>, conns: mpsc::Sender<io::Result<Conn>>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let conns = conns.clone();
        let tls = tls.clone();
        // Handshakes run on their own task so a slow or hostile client cannot stall others.
        tokio::spawn(async move {
            let conn = match tls {
                None => Conn(Either::Right(stream)),
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => Conn(Either::Left(tls)),
                    Err(e) => {
                        tracing::warn!(error = %e, "refused a connection: TLS handshake failed (client certificate not the pinned one?)");
                        return;
                    }
                },
            };
            let _ = conns.send(Ok(conn)).await;
        });
    }
}

/// A served connection, with or without TLS.
pub struct Conn(Either<TlsStream<UnixStream>, UnixStream>);

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
