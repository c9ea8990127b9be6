//! The connection level: each enrolled pod gets an outbound listener (127.0.0.1:15001) and an
//! inbound listener (15006) inside its netns; every connection reads top to bottom as
//! `listener → original destination → protocol → HTTP path | L4 path (endpoint → upstream → copy)`;
//! upstreams that are meshed pods are reached through the mTLS tunnel (`outbound_tunnel.rs`),
//! whose streams arrive at the destination pod's inbound listener (`inbound_tunnel.rs`).

mod authorize;
mod caps;
mod connection;
pub mod connection_log;
mod copy;
pub mod forward;
mod handshakes;
pub mod inbound;
mod inbound_l4;
mod inbound_tunnel;
mod listener;
pub mod local;
pub mod metrics;
pub mod outbound;
mod outbound_l4;
mod outbound_route;
mod outbound_tunnel;
pub mod protocol;
pub mod sni;
mod splice;
mod tunnel_at_l4;

use std::os::fd::BorrowedFd;
use std::sync::Arc;

pub use caps::{
    Cap, ConnectionCaps, ConnectionPermit, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_POD,
};
pub use connection::{serve, serve_authenticated, Captured};
pub use handshakes::{HandshakeListener, HandshakeRate, DEFAULT_MAX_HANDSHAKES_PER_SECOND};
pub use inbound::Inbound;
pub use listener::Connection;
pub use local::{LocalPods, SameNodeHop};
pub use metrics::{TcpLabels, TcpMetrics};
pub use outbound::Outbound;

use crate::capture::OriginalDsts;
use crate::net::UpstreamSockets;
use crate::pipeline::ConfigState;

/// What every connection of every pod shares.
pub struct ProxyInputs {
    /// Original destinations of captured outbound connections.
    pub original_dsts: Arc<dyn OriginalDsts>,
    /// The configuration in force: services, endpoints, workloads, routes.
    pub config: ConfigState,
    /// TCP telemetry.
    pub metrics: Arc<TcpMetrics>,
    /// How upstream connections are opened.
    pub sockets: UpstreamSockets,
    /// The HTTP path: request metrics and protocol detection settings.
    pub http: Arc<crate::http::HttpInputs>,
    /// Called with each accepted outbound socket before it is read (same-node acceleration).
    pub on_outbound_accept: Option<AcceptHook>,
    /// Joins a plain-text L4 connection's two sockets in the kernel (`--l4-splice`).
    pub splice: Option<Arc<dyn crate::capture::Splicer>>,
    /// The pods enrolled on this node, by IP: the same-node fast path.
    pub local_pods: LocalPods,
    /// The mTLS tunnel to meshed pods of other nodes, and its inbound side (`None`: no
    /// certificate source, connections go in plain text).
    pub tunnels: Option<Arc<crate::tunnel::Tunnels>>,
    /// The caps on downstream connections, in all and per pod.
    pub caps: Arc<ConnectionCaps>,
    /// Throttles the warning about connections straight to 15001 (no original destination).
    pub direct_connect_warnings: Arc<crate::throttle::Throttle>,
}

/// Sees an accepted outbound socket: `(socket, netns cookie, peer port)`.
pub type AcceptHook = Arc<dyn Fn(BorrowedFd<'_>, u64, u16) + Send + Sync>;
