//! Time limits on what a client outside the mesh sends a gateway port before a request is
//! routed: the TLS handshake of an HTTPS port, and each HTTP/1 request's headers (from their
//! first byte, as Envoy's `request_headers_timeout`). A client that never finishes either (one
//! byte a minute) holds no socket for long; an idle connection ends at the agent's idle limit.

use std::time::Duration;

use crate::http::DownstreamTimeouts;

/// How long a client has to complete the TLS handshake on an HTTPS port.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's headers once it starts one (HTTP/1).
pub const REQUEST_HEADERS_TIMEOUT: Duration = Duration::from_secs(10);

/// The time limits of every gateway listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewayTimeouts {
    /// The TLS handshake, from accept to its end.
    pub tls_handshake: Duration,
    /// An HTTP/1 request's headers, from their first byte; the connection closes when they
    /// are late.
    pub request_headers: Duration,
}

impl Default for GatewayTimeouts {
    fn default() -> Self {
        Self {
            tls_handshake: TLS_HANDSHAKE_TIMEOUT,
            request_headers: REQUEST_HEADERS_TIMEOUT,
        }
    }
}

impl GatewayTimeouts {
    /// The downstream limits a gateway connection is served with: the stricter of the
    /// gateway's header limit and the agent's `mesh` one (timed by `http::downstream` from a
    /// head's first byte, so a kept-alive client waiting between requests is not cut), and
    /// the agent's idle limit.
    pub fn downstream(&self, mesh: DownstreamTimeouts) -> DownstreamTimeouts {
        DownstreamTimeouts {
            header_read: self.request_headers.min(mesh.header_read),
            idle: mesh.idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_header_limit_and_the_agents_idle_limit_are_served() {
        let gateway = GatewayTimeouts::default();
        let mesh = DownstreamTimeouts::default();
        let served = gateway.downstream(mesh);
        assert_eq!(served.header_read, REQUEST_HEADERS_TIMEOUT);
        assert_eq!(served.idle, mesh.idle);
        let strict = DownstreamTimeouts {
            header_read: Duration::from_secs(2),
            idle: Duration::from_secs(60),
        };
        assert_eq!(gateway.downstream(strict), strict);
    }
}
