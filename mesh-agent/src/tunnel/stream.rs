//! A connection carried in one CONNECT stream of the tunnel: bytes both ways, and on the client
//! side the pool's count of the HTTP/2 connection's open streams, given back when it ends.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Called once when the stream ends (the pool's stream count).
pub(super) type StreamLease = Box<dyn FnOnce() + Send + Sync>;

/// One proxied connection inside the tunnel.
pub struct TunnelStream {
    io: TokioIo<Upgraded>,
    lease: Option<StreamLease>,
}

impl TunnelStream {
    pub(super) fn new(upgraded: Upgraded, lease: Option<StreamLease>) -> Self {
        Self {
            io: TokioIo::new(upgraded),
            lease,
        }
    }
}

impl Drop for TunnelStream {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease();
        }
    }
}

impl AsyncRead for TunnelStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for TunnelStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
