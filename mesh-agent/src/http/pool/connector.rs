//! Opens upstream connections for the pool: inside the pod's netns, marked (or in the mTLS
//! tunnel, for the endpoints the source pod's planner sends there), within the
//! destination's `tcp.connectTimeout` (else the agent's), each holding a place under the
//! destination's `tcp.maxConnections` (per source pod); a gateway's never to a node-local
//! address; speaking TLS when the destination's DestinationRule originates it
//! (`origination.rs`; over a socket only: originated destinations are outside the mesh).

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tower::Service;

use super::connection::{UpstreamConnection, UpstreamIo};
use super::origination::Origination;
use crate::errors::BoxError;
use crate::net::connect;
use crate::net::Netns;
use crate::net::{NodeLocalGuard, UpstreamSockets};
use crate::resilience::DestinationPool;
use crate::tunnel::{TunnelPlanner, Tunnels};

/// A hyper connector opening sockets inside one pod's netns for one destination (or for
/// requests to no configured destination).
#[derive(Clone)]
pub(super) struct PodConnector {
    netns: Netns,
    sockets: UpstreamSockets,
    limits: Option<DestinationPool>,
    /// The gateway's: node-local destinations refused.
    guard: Option<Arc<NodeLocalGuard>>,
    /// The TLS spoken to the endpoints, when the destination originates it.
    origination: Option<Arc<Origination>>,
    /// Set for HTTP/2 clients: the endpoint dialled whatever the request's authority says.
    endpoint: Option<SocketAddr>,
    /// The tunnel, for the endpoints its planner sends through it.
    tunnel: Option<PoolTunnel>,
}

/// The mTLS tunnel as the pool uses it: the agent's tunnels and the source pod's planner.
#[derive(Clone)]
pub struct PoolTunnel {
    pub tunnels: Arc<Tunnels>,
    pub planner: TunnelPlanner,
    /// The CA refusing the source's identity sends the connection in plain text (the ingress
    /// gateway on a node not running it is a client outside the mesh) instead of failing it.
    pub plain_when_refused: bool,
}

impl PodConnector {
    /// Sockets opened in `netns` with `sockets`' settings, under `limits`' connection pool.
    pub(super) fn new(
        netns: Netns,
        sockets: UpstreamSockets,
        limits: Option<DestinationPool>,
        tunnel: Option<PoolTunnel>,
        guard: Option<Arc<NodeLocalGuard>>,
    ) -> Self {
        let sockets =
            sockets.with_connect_timeout(limits.as_ref().and_then(|l| l.policy().connect_timeout));
        Self {
            netns,
            sockets,
            limits,
            guard,
            origination: None,
            endpoint: None,
            tunnel,
        }
    }

    /// The same connector dialling `endpoint` whatever the request's authority: HTTP/2
    /// requests carry the client's authority (`:authority`), so their URI cannot name it.
    pub(super) fn pinned_to(&self, endpoint: SocketAddr) -> Self {
        Self {
            endpoint: Some(endpoint),
            ..self.clone()
        }
    }

    /// The same connector speaking TLS as `origination` says.
    pub(super) fn originating(self, origination: Arc<Origination>) -> Self {
        Self {
            origination: Some(origination),
            ..self
        }
    }

    /// How long an upstream connection of this destination may stay idle in the pool
    /// (`http.idleTimeout`; `0s`: no limit).
    pub(super) fn idle_timeout(&self, default: Duration) -> Option<Duration> {
        let idle = self
            .limits
            .as_ref()
            .map_or(default, |limits| limits.policy().idle_timeout);
        (!idle.is_zero()).then_some(idle)
    }

    async fn open(self, uri: Uri) -> Result<TokioIo<UpstreamConnection>, BoxError> {
        let addr = match self.endpoint {
            Some(endpoint) => endpoint,
            None => endpoint_of(&uri)?,
        };
        if let Some(guard) = &self.guard {
            guard.check(addr.ip())?;
        }
        let place = match &self.limits {
            Some(limits) => Some(
                limits
                    .wait_for_connection(self.sockets.connect_timeout)
                    .await?,
            ),
            None => None,
        };
        let stream = self.open_stream(addr).await?;
        let max_duration = self
            .limits
            .as_ref()
            .and_then(|l| l.policy().max_connection_duration);
        let connection = UpstreamConnection::new(stream, place, max_duration);
        Ok(TokioIo::new(connection))
    }
}

impl PodConnector {
    /// A stream to `addr`: in the tunnel when the planner says so (plain text when nobody
    /// listens on the destination's tunnel port: no agent there, fail open), else a socket,
    /// in TLS when the destination originates it.
    async fn open_stream(&self, addr: SocketAddr) -> Result<Box<dyn UpstreamIo>, BoxError> {
        let plan = self
            .tunnel
            .as_ref()
            .and_then(|t| Some((t, (t.planner)(addr)?)));
        if let Some((tunnel, plan)) = plan {
            match tunnel.tunnels.open(&self.netns, &self.sockets, &plan).await {
                Ok(stream) => return Ok(Box::new(stream)),
                Err(error) if error.nobody_listens() => {
                    tracing::warn!(endpoint = %addr, %error, "no agent at the destination; plain text (fail open)");
                }
                Err(error) if tunnel.plain_when_refused && error.identity_refused() => {
                    tracing::warn!(endpoint = %addr, %error, "no certificate for this source; plain text, outside the mesh");
                }
                Err(error) => return Err(error.into()),
            }
        }
        let stream = connect(&self.netns, addr, &self.sockets).await?;
        match &self.origination {
            None => Ok(Box::new(stream)),
            Some(origination) => self.handshake(origination, stream).await,
        }
    }

    /// TLS over `stream` as `origination` says, within the connect timeout; ALPN `h2` for
    /// HTTP/2 clients (pinned to an endpoint), `http/1.1` otherwise.
    async fn handshake(
        &self,
        origination: &Origination,
        stream: tokio::net::TcpStream,
    ) -> Result<Box<dyn UpstreamIo>, BoxError> {
        let (name, config) = origination.client(self.endpoint.is_some())?;
        let connecting = TlsConnector::from(config).connect(name, stream);
        let limit = self.sockets.connect_timeout;
        let tls = tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| format!("TLS handshake not done within {limit:?}"))??;
        Ok(Box::new(tls))
    }
}

impl Service<Uri> for PodConnector {
    type Response = TokioIo<UpstreamConnection>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().open(uri))
    }
}

fn endpoint_of(uri: &Uri) -> std::io::Result<SocketAddr> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an endpoint uri");
    let authority = uri.authority().ok_or_else(invalid)?;
    authority.as_str().parse().map_err(|_| invalid())
}
