//! A connection carried in one CONNECT stream of the tunnel: bytes both ways, and on the client
//! side the pool's count of the HTTP/2 connection's open streams, given back when it ends.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Held while the stream lives; dropping it gives the stream back (the pool's count).
pub(super) type StreamLease = Box<dyn Send + Sync>;

/// One proxied connection inside the tunnel.
pub struct TunnelStream {
    io: TokioIo<Upgraded>,
    _lease: Option<StreamLease>,
    /// Bytes read already (to tell the protocol) and given back: read again first.
    unread: Bytes,
    /// The destination accepted the source's offer: it carries the stream at L4 and the
    /// source reports the requests for both sides (client side only).
    source_reports: bool,
}

impl TunnelStream {
    pub(super) fn new(upgraded: Upgraded, lease: Option<StreamLease>) -> Self {
        Self {
            io: TokioIo::new(upgraded),
            _lease: lease,
            unread: Bytes::new(),
            source_reports: false,
        }
    }

    /// The same stream, marked as one whose requests the source reports for both sides.
    pub(super) fn reported_by_source(self, source_reports: bool) -> Self {
        Self {
            source_reports,
            ..self
        }
    }

    /// Whether the destination carries this stream at L4 and left its requests' destination
    /// side to the source to report ([`super::L7_REPORTER`]).
    pub fn source_reports(&self) -> bool {
        self.source_reports
    }

    /// Gives `bytes` back: the next reads return them before anything else.
    pub fn unread(&mut self, bytes: Vec<u8>) {
        let mut joined = bytes;
        joined.extend_from_slice(&self.unread);
        self.unread = Bytes::from(joined);
    }
}

impl AsyncRead for TunnelStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.remaining());
            buf.put_slice(&self.unread.split_to(n));
            return Poll::Ready(Ok(()));
        }
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
