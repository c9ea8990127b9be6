//! One gateway port: a listener on the node's address. Each connection (TLS terminated first
//! on an HTTPS port) is served by hyper; each request is bound to the Gateway whose server
//! hosts its Host matches, then goes through the shared request stack, which routes it by
//! that Gateway's VirtualServices.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::Request;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::hosts::{best_match, normalized};
use super::identity::gateway_workload;
use super::selection::{GatewayLabels, PortPlan};
use crate::facts::Reporter;
use crate::http::{boxed, request_stack, Direction, GatewayBinding, HttpInputs, Peers, Pool};
use crate::net::Netns;
use crate::pipeline::ConfigState;

/// What a port serves now; swapped in place when the Gateways change.
pub struct PortState {
    /// The servers on the port.
    pub plan: PortPlan,
    /// The TLS acceptor of an HTTPS port.
    pub tls: Option<TlsAcceptor>,
}

/// What every gateway port shares.
pub struct GatewayShared {
    /// The configuration in force (routes, endpoints).
    pub config: ConfigState,
    /// The request stack's metrics, telemetry and traffic state.
    pub http: Arc<HttpInputs>,
    /// Upstream connections, opened from the node's own netns (never enrolled, so never
    /// captured).
    pub pool: Pool,
    /// The agent's gateway labels: the gateway's identity in telemetry ([`gateway_workload`]).
    pub labels: GatewayLabels,
}

/// The listener of one gateway port.
pub struct GatewayListener {
    listener: crate::net::Listener,
    state: Arc<ArcSwap<PortState>>,
    shared: Arc<GatewayShared>,
}

impl GatewayListener {
    /// Listens on `addr` in the agent's own netns.
    pub async fn new(
        addr: SocketAddr,
        state: Arc<ArcSwap<PortState>>,
        shared: Arc<GatewayShared>,
    ) -> std::io::Result<Self> {
        let listener = crate::net::listen(&Netns::current()?, addr).await?;
        Ok(Self {
            listener,
            state,
            shared,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until dropped or the agent drains; each connection runs on its own task and
    /// outlives the listener, until the drain time ends.
    pub async fn run(self) {
        let drain = self.shared.http.drain.clone();
        let mut backoff = crate::net::AcceptBackoff::default();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = drain.draining() => return,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    backoff.after(&error, "ingress-gateway", "gateway").await;
                    continue;
                }
            };
            backoff.reset();
            let (state, shared) = (self.state.clone(), self.shared.clone());
            tokio::spawn(drain.track(serve_connection(stream, peer, state, shared)));
        }
    }
}

/// How long a client has to finish its TLS handshake with the gateway: one that sends
/// nothing (or too little) is closed instead of holding a socket and a task.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Terminates TLS when the port is HTTPS (the handshake within [`TLS_HANDSHAKE_TIMEOUT`]),
/// then serves HTTP.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ArcSwap<PortState>>,
    shared: Arc<GatewayShared>,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let tls = state.load().tls.clone();
    match tls {
        None => serve_http(stream, peer, local, state, shared).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            match handshake.await {
                Ok(Ok(tls)) => serve_http(tls, peer, local, state, shared).await,
                Ok(Err(error)) => tracing::debug!(%error, %peer, "gateway TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "gateway TLS handshake timed out"),
            }
        }
    }
}

/// Serves HTTP/1.1 or HTTP/2 on `io` until it closes, each request through the stack.
async fn serve_http<IO>(
    io: IO,
    peer: SocketAddr,
    local: SocketAddr,
    state: Arc<ArcSwap<PortState>>,
    shared: Arc<GatewayShared>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let gateway = gateway_workload(&shared.config.snapshot(), &shared.labels);
    let peers = Peers {
        reporter: Reporter::source,
        source: Some(gateway),
        destination: None,
        pod_ip: None,
        downstream: Some(peer),
        security: Default::default(),
        peer_identity: None,
    };
    let direction = Direction::Gateway { listener: local };
    let config = shared.config.clone();
    let stack = request_stack(&shared.http, config, peers, direction, shared.pool.clone());
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(boxed);
        if let Some(binding) = binding(&state.load().plan, &request) {
            request.extensions_mut().insert(binding);
        }
        stack.clone().oneshot(request)
    });
    let drain = shared.http.drain.clone();
    if let Err(error) =
        crate::http::serve_drained(io, service, &drain, shared.http.downstream).await
    {
        tracing::debug!(%error, "gateway connection ended with an error");
    }
}

/// The Gateway whose server on this port hosts the request's authority; `None`: no server
/// does (the route layer answers 404 `NR`).
fn binding<B>(plan: &PortPlan, request: &Request<B>) -> Option<GatewayBinding> {
    let authority = request.uri().authority().map(|a| a.as_str());
    let header = || request.headers().get(HOST)?.to_str().ok();
    let host = normalized(authority.or_else(header)?);
    let servers = plan.servers.iter().map(|s| (s.hosts.as_slice(), s));
    let server = best_match(servers, &host)?;
    Some(GatewayBinding {
        gateway: server.gateway.clone(),
        namespace: server.namespace.clone(),
        host,
    })
}
