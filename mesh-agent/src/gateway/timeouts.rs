//! Time limits on what a client outside the mesh sends a gateway port before a request is
//! routed: the TLS handshake of an HTTPS port, and each HTTP/1 request's headers. A client that
//! opens connections and sends nothing (or one byte a minute) holds no socket for long.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

/// How long a client has to complete the TLS handshake on an HTTPS port.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's headers once it starts one (HTTP/1).
pub const REQUEST_HEADERS_TIMEOUT: Duration = Duration::from_secs(10);

/// The time limits of every gateway listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewayTimeouts {
    /// The TLS handshake, from accept to its end.
    pub tls_handshake: Duration,
    /// An HTTP/1 request's headers; the connection closes when they are late.
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
    /// hyper's server settings with the header-read limit.
    pub fn server(&self) -> auto::Builder<TokioExecutor> {
        let mut server = auto::Builder::new(TokioExecutor::new());
        server
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.request_headers);
        server
    }
}
