//! The last step of every connection: copy bytes both ways, with half-close, counting them,
//! and log the connection when it ends.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::connection_log::ConnectionLog;
use super::metrics::{ConnectionMetrics, ReportedCounter};
use super::socket::reset;

/// Copies between `client` and `upstream` until both directions are done. An end of stream is
/// passed on as a half-close (`shutdown(SHUT_WR)`); an error resets both sides.
///
/// Both sockets send without Nagle's delay (`TCP_NODELAY`): each write carries bytes the peer
/// already wrote, so holding them back only adds latency. `log`, when access logging is on,
/// gets one line once both directions are done.
pub async fn forward(
    client: TcpStream,
    mut upstream: TcpStream,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
) {
    if let Err(error) = client.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on the client side");
    }
    let mut counted = Counted {
        inner: client,
        read: metrics.received.clone(),
        written: metrics.sent.clone(),
        read_here: 0,
        written_here: 0,
    };
    let result = tokio::io::copy_bidirectional(&mut counted, &mut upstream).await;
    let (from_client, to_client) = (counted.read_here, counted.written_here);
    if let Some(log) = log {
        log.finish(from_client, to_client, result.is_err());
    }
    match result {
        Ok(_) => tracing::debug!(from_client, to_client, "connection closed"),
        Err(error) => {
            tracing::debug!(%error, "connection failed; resetting both sides");
            reset(counted.inner);
            reset(upstream);
        }
    }
    drop(metrics);
}

/// A stream that counts the bytes read from and written to it as they pass, into the shared
/// counters and for this connection alone.
struct Counted<S> {
    inner: S,
    read: ReportedCounter,
    written: ReportedCounter,
    read_here: u64,
    written_here: u64,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.inc_by(n as u64);
        self.read_here += n as u64;
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.written.inc_by(*n as u64);
            self.written_here += *n as u64;
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
