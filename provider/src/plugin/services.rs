//! go-plugin's own services every plugin serves beside the provider: the controller (Shutdown),
//! stdio mirroring and the broker. The provider needs neither stdio mirroring (logs go to stderr,
//! which go-plugin reads directly) nor brokered connections, so those keep their streams open idle.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin as pb;

pub struct Controller {
    pub shutdown: mpsc::Sender<()>,
}

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::debug!("shutdown requested by Terraform");
        // The channel has room for one request; later ones find shutdown already under way.
        let _ = self.shutdown.try_send(());
        Ok(Response::new(pb::Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

pub struct Stdio;

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(&self, _: Request<()>) -> Result<Response<BoxStream<pb::StdioData>>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}

pub struct Broker;

#[tonic::async_trait]
impl pb::grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(&self, req: Request<Streaming<pb::ConnInfo>>) -> Result<Response<BoxStream<pb::ConnInfo>>, Status> {
        let mut inbound = req.into_inner();
        // Drain whatever the client sends so its side never blocks; nothing is brokered.
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}
