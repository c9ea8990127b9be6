//! HBONE, the mTLS tunnel between agents, wire-compatible with Istio ambient's: TLS 1.3 with
//! both workloads' certificates (`tls.rs`), HTTP/2 `CONNECT` to the original destination
//! `ip:port`, one stream per proxied connection. `client.rs` pools the HTTP/2 connections per
//! (source identity, destination pod); `server.rs` answers the CONNECTs of one accepted
//! connection; `stream.rs` is a stream carried in the tunnel.

mod client;
mod headers;
mod server;
mod stream;
mod tls;

pub use client::{TunnelPlan, TunnelPlanner, TunnelSettings, TunnelTarget, Tunnels};
pub use headers::{TunnelHeaders, L7_REPORTER, SOURCE_REPORTS};
pub use server::{serve, TunnelAnswer, TunnelRequest};
pub use stream::TunnelStream;
pub use tls::{client_config, peer_identity, server_config};

/// The port HBONE listens on (Istio's).
pub const HBONE_PORT: u16 = 15008;

/// Why a tunnel or a stream in it could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// A certificate is missing, malformed or not the one expected.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The workload's certificate could not be had.
    #[error(transparent)]
    Source(#[from] crate::identity::CertificateError),
    /// Connecting to the peer's tunnel port failed.
    #[error("connect to {address}: {source}")]
    Connect {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The TLS handshake failed (the peer's identity among the reasons).
    #[error("TLS with {address}: {source}")]
    Handshake {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// HTTP/2 failed on the tunnel.
    #[error("HTTP/2: {0}")]
    Http(#[from] hyper::Error),
    /// The peer answered the CONNECT with another status than 200.
    #[error("the peer answered {0} to CONNECT")]
    Refused(http::StatusCode),
}

impl TunnelError {
    /// Nothing listens on the peer's tunnel port (its agent is not running, or gone while it
    /// upgrades): the mesh fails open there, so the caller may go in plain text, as it would
    /// reach a pod no agent captures.
    pub fn nobody_listens(&self) -> bool {
        matches!(self, TunnelError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::ConnectionRefused)
    }

    /// The CA refused the source's certificate (not an outage): the source has no identity.
    pub fn identity_refused(&self) -> bool {
        matches!(
            self,
            TunnelError::Source(crate::identity::CertificateError::Refused { .. })
        )
    }
}
