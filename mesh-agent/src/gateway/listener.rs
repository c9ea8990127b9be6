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

use super::edge::{take_from_outside, Arrival};
use super::hosts::{best_match, normalized};
use super::identity::gateway_workload;
use super::selection::PortPlan;
use super::sni_host;
use super::timeouts::GatewayTimeouts;
use super::tunnel::GatewayIdentity;
use crate::facts::Reporter;
use crate::http::{
    boxed, request_stack, Direction, GatewayBinding, HttpInputs, PeerSecurity, Peers, Pool,
};
use crate::net::Netns;
use crate::pipeline::ConfigState;
use crate::proxy::HandshakeListener;

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
    /// Who the gateway is: its labels and ServiceAccount ([`gateway_workload`]).
    pub identity: GatewayIdentity,
    /// Whether meshed pods of other nodes are reached in the tunnel (the pool plans it).
    pub tunnelled: bool,
    /// The TLS handshake and request-header limits.
    pub timeouts: GatewayTimeouts,
    /// The agent's caps: TLS handshakes a second per client address.
    pub caps: Arc<crate::proxy::ConnectionCaps>,
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

/// Terminates TLS when the port is HTTPS (at most the agent's handshakes a second per client
/// address, each within the gateway's `tls_handshake` limit: a client that sends nothing, or
/// too little, is closed instead of holding a socket and a task), then serves HTTP.
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
        None => {
            let client = Client {
                peer,
                local,
                tls: false,
                sni: None,
            };
            serve_http(stream, client, state, shared).await;
        }
        Some(acceptor) => {
            // Before the handshake, the expensive part: a client past its rate is closed.
            let handshakes = &shared.caps.handshakes;
            if !handshakes.allow(&peer.ip().to_string(), None, HandshakeListener::gateway) {
                return;
            }
            let limit = shared.timeouts.tls_handshake;
            match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    let client = Client {
                        peer,
                        local,
                        tls: true,
                        sni,
                    };
                    serve_http(tls, client, state, shared).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %peer, "gateway TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, ?limit, "gateway TLS handshake timed out"),
            }
        }
    }
}

/// Who is on the other end of a gateway connection.
struct Client {
    peer: SocketAddr,
    local: SocketAddr,
    /// Over TLS (an HTTPS port).
    tls: bool,
    /// The server name the TLS client sent (HTTPS ports).
    sni: Option<String>,
}

/// Serves HTTP/1.1 or HTTP/2 on `io` until it closes, each request taken from outside (its
/// Host against the SNI, its headers per the gateway topology) then through the stack.
async fn serve_http<IO>(
    io: IO,
    client: Client,
    state: Arc<ArcSwap<PortState>>,
    shared: Arc<GatewayShared>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let snapshot = shared.config.snapshot();
    let identity = &shared.identity;
    let gateway = gateway_workload(&snapshot, &identity.labels, identity.account.as_ref());
    let security = match identity.identity(&snapshot) {
        Some(source) if shared.tunnelled => PeerSecurity::MeshedThroughTunnel { source },
        _ => PeerSecurity::None,
    };
    let arrival = Arrival {
        peer: client.peer.ip(),
        tls: client.tls,
        trusted_proxies: snapshot
            .mesh
            .default_config
            .gateway_topology
            .num_trusted_proxies,
    };
    let peers = Peers {
        reporter: Reporter::source,
        source: Some(gateway),
        destination: None,
        pod_ip: None,
        downstream: Some(client.peer),
        security,
        peer_identity: None,
    };
    let direction = Direction::Gateway {
        listener: client.local,
    };
    let config = shared.config.clone();
    let stack = request_stack(&shared.http, config, peers, direction, shared.pool.clone());
    let sni = client.sni;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(boxed);
        let plan = &state.load().plan;
        let host = host_of(&request).unwrap_or_default().to_string();
        let misdirected = sni_host::disagree(plan, sni.as_deref(), &host);
        take_from_outside(request.headers_mut(), arrival);
        if let Some(binding) = binding(plan, &request) {
            request.extensions_mut().insert(binding);
        }
        let stack = stack.clone();
        let sni = sni.clone().unwrap_or_default();
        async move {
            match misdirected {
                true => Ok(sni_host::misdirected(&host, &sni)),
                false => stack.oneshot(request).await,
            }
        }
    });
    let drain = shared.http.drain.clone();
    let timeouts = shared.timeouts.downstream(shared.http.downstream);
    if let Err(error) = crate::http::serve_drained(io, service, &drain, timeouts).await {
        tracing::debug!(%error, "gateway connection ended with an error");
    }
}

/// The Gateway whose server on this port hosts the request's authority; `None`: no server
/// does (the route layer answers 404 `NR`).
fn binding<B>(plan: &PortPlan, request: &Request<B>) -> Option<GatewayBinding> {
    let host = normalized(host_of(request)?);
    let servers = plan.servers.iter().map(|s| (s.hosts.as_slice(), s));
    let server = best_match(servers, &host)?;
    Some(GatewayBinding {
        gateway: server.gateway.clone(),
        namespace: server.namespace.clone(),
        host,
    })
}

/// The request's authority (HTTP/2) or Host header.
fn host_of<B>(request: &Request<B>) -> Option<&str> {
    let authority = request.uri().authority().map(|a| a.as_str());
    authority.or_else(|| request.headers().get(HOST)?.to_str().ok())
}
