//! The last step of every connection: copy bytes both ways, with half-close, counting them,
//! within the connection's lifetime (`tcp.idleTimeout`, `tcp.maxConnectionDuration`), and log
//! the connection when it ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::connection_log::ConnectionLog;
use super::copy::copy_both_ways;
use super::metrics::{ConnectionMetrics, ReportedCounter};
use crate::clock;
use crate::net::reset;
use crate::resilience::ConnectionPoolPolicy;

/// How long a proxied connection may live (Istio's defaults: idle 1 h, no maximum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLifetime {
    /// `tcp.idleTimeout`: no bytes either way for this long closes both sides.
    pub idle_timeout: Option<Duration>,
    /// `tcp.maxConnectionDuration`: the connection is closed this long after it opened.
    pub max_duration: Option<Duration>,
}

impl Default for ConnectionLifetime {
    fn default() -> Self {
        Self {
            idle_timeout: Some(Duration::from_secs(3600)),
            max_duration: None,
        }
    }
}

impl ConnectionLifetime {
    /// The lifetime a destination's `connectionPool` sets (`tcp.idleTimeout`,
    /// `tcp.maxConnectionDuration`); Istio's defaults without one.
    pub fn of(policy: Option<&ConnectionPoolPolicy>) -> Self {
        match policy {
            Some(policy) => Self {
                idle_timeout: Some(policy.tcp_idle_timeout),
                max_duration: policy.max_connection_duration,
            },
            None => Self::default(),
        }
    }
}

/// Why a connection was closed before both sides were done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// No bytes either way for `idleTimeout`.
    Idle,
    /// `maxConnectionDuration` passed.
    MaxDuration,
}

/// When bytes last passed, either way; cheap to clone.
#[derive(Clone, Debug)]
pub struct Activity {
    since: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    /// Activity starting now.
    pub fn new() -> Self {
        Self {
            since: Instant::now(),
            last_ms: Arc::default(),
        }
    }

    /// Bytes passed now.
    pub fn touch(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        clock::deadline(
            self.since,
            Duration::from_millis(self.last_ms.load(Ordering::Relaxed)),
        )
    }

    /// Resolves once nothing has passed for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let due = clock::deadline(self.last(), idle);
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `copy` until it ends, or until `lifetime` cuts it (then it is dropped).
pub async fn within<F: Future>(
    copy: F,
    activity: &Activity,
    lifetime: ConnectionLifetime,
) -> Result<F::Output, Cut> {
    let idle = async {
        match lifetime.idle_timeout.filter(|t| !t.is_zero()) {
            Some(idle) => activity.idle_for(idle).await,
            None => std::future::pending().await,
        }
    };
    let old = async {
        match lifetime.max_duration.filter(|t| !t.is_zero()) {
            Some(max) => tokio::time::sleep_until(clock::deadline(activity.since, max)).await,
            None => std::future::pending().await,
        }
    };
    // Biased: the copy is polled first on every wake (bytes woke it, nearly always), without
    // drawing a random branch order and polling both timers first.
    tokio::select! {
        biased;
        output = copy => Ok(output),
        () = idle => Err(Cut::Idle),
        () = old => Err(Cut::MaxDuration),
    }
}

/// A stream the L4 path carries: a socket, or a connection in the tunnel.
pub trait Carried: AsyncRead + AsyncWrite + Unpin + Send {
    /// Ends it at once on an error: a socket resets (RST), a tunnel stream is cancelled.
    fn abort(self);
    /// Readies it for the copy (sockets: no Nagle's delay).
    fn prepare(&self) {}
    /// The socket, when it is one (the kernel can splice it).
    fn into_socket(self) -> Result<TcpStream, Self>
    where
        Self: Sized,
    {
        Err(self)
    }
}

impl Carried for TcpStream {
    fn abort(self) {
        reset(self)
    }

    fn prepare(&self) {
        if let Err(error) = self.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    }

    fn into_socket(self) -> Result<TcpStream, Self> {
        Ok(self)
    }
}

impl Carried for crate::tunnel::TunnelStream {
    fn abort(self) {
        drop(self)
    }
}

/// [`forward_within`] Istio's default lifetime.
pub async fn forward(
    client: impl Carried,
    upstream: impl Carried,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
) {
    forward_within(
        client,
        upstream,
        metrics,
        log,
        ConnectionLifetime::default(),
    )
    .await
}

/// Copies between `client` and `upstream` until both directions are done, or `lifetime`
/// closes both. An end of stream is passed on as a half-close (`shutdown(SHUT_WR)`); an error
/// resets both sides.
///
/// Both sockets send without Nagle's delay (`TCP_NODELAY`): each write carries bytes the peer
/// already wrote, so holding them back only adds latency. `log`, when access logging is on,
/// gets one line once both directions are done.
pub async fn forward_within(
    client: impl Carried,
    mut upstream: impl Carried,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
    lifetime: ConnectionLifetime,
) {
    client.prepare();
    upstream.prepare();
    let mut counted = Counted {
        inner: client,
        read: metrics.received.clone(),
        written: metrics.sent.clone(),
        read_here: 0,
        written_here: 0,
        activity: Activity::new(),
    };
    let activity = counted.activity.clone();
    let copy = copy_both_ways(&mut counted, &mut upstream);
    let result = match within(copy, &activity, lifetime).await {
        Ok(result) => result,
        Err(cut) => {
            tracing::debug!(?cut, "connection lifetime reached; closing both sides");
            Ok((0, 0))
        }
    };
    let (from_client, to_client) = (counted.read_here, counted.written_here);
    if let Some(log) = log {
        log.finish(from_client, to_client, result.is_err());
    }
    match result {
        Ok(_) => tracing::debug!(from_client, to_client, "connection closed"),
        Err(error) => {
            tracing::debug!(%error, "connection failed; resetting both sides");
            counted.inner.abort();
            upstream.abort();
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
    activity: Activity,
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
        if n > 0 {
            self.activity.touch();
        }
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
            self.activity.touch();
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

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
