//! One upstream HTTP connection as the pool sees it: the requests it carried and carries now,
//! its age, the `tcp.maxConnections` place it holds. Once `maxConnectionDuration` has passed
//! it reads as closed as soon as nothing is in flight, so hyper drops it (Envoy's drain).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::client::TlsStream;

use crate::resilience::breaker::limits::ConnectionPermit;
use crate::resilience::ConnectionPoolPolicy;

/// The use of one connection, shared by the socket and the requests it carries; travels to
/// each request through hyper-util's connection metadata.
#[derive(Clone, Debug)]
pub(super) struct ConnectionUse(Arc<UseState>);

#[derive(Debug)]
struct UseState {
    opened: Instant,
    served: AtomicU32,
    in_flight: AtomicU32,
    /// The connection's reader, waiting for the last request in flight to end.
    drained: AtomicWaker,
}

/// A request in flight on a connection; ends (and may let the connection close) on drop.
#[derive(Debug)]
pub(super) struct InFlight(ConnectionUse);

impl ConnectionUse {
    fn new() -> Self {
        Self(Arc::new(UseState {
            opened: Instant::now(),
            served: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            drained: AtomicWaker::new(),
        }))
    }

    /// Counts a request starting on the connection, and whether `policy` lets the connection
    /// carry another after it (`maxRequestsPerConnection`, `maxConnectionDuration`).
    pub(super) fn start(&self, policy: &ConnectionPoolPolicy) -> (InFlight, bool) {
        let served = self.0.served.fetch_add(1, Ordering::AcqRel) + 1;
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        let reusable = policy.reusable(served, self.0.opened.elapsed());
        (InFlight(self.clone()), reusable)
    }

    fn idle(&self) -> bool {
        self.0.in_flight.load(Ordering::Acquire) == 0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0 .0;
        if state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            state.drained.wake();
        }
    }
}

/// What an upstream connection runs over: a socket, TLS the agent originates over a socket,
/// or a stream in the mTLS tunnel.
pub(super) trait UpstreamIo: AsyncRead + AsyncWrite + Send + Unpin {
    /// Whether it is a stream in the mTLS tunnel.
    fn in_tunnel(&self) -> bool {
        false
    }

    /// Whether the destination carries it at L4 and the source reports its requests for both
    /// sides (a tunnel stream whose CONNECT offer was accepted).
    fn source_reports(&self) -> bool {
        false
    }
}

impl UpstreamIo for TcpStream {}
impl UpstreamIo for TlsStream<TcpStream> {}
impl UpstreamIo for crate::tunnel::TunnelStream {
    fn in_tunnel(&self) -> bool {
        true
    }

    fn source_reports(&self) -> bool {
        crate::tunnel::TunnelStream::source_reports(self)
    }
}

/// Whether the connection a response came over was a stream in the mTLS tunnel; in each
/// response's extensions (hyper-util copies a connection's extras there), so telemetry says
/// `mutual_tls` only for what the tunnel carried — not for a meshed destination reached in
/// plain text because no agent listened on its tunnel port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarriedInTunnel(pub bool);

/// On a response: its connection is a tunnel stream the destination carries at L4, so no
/// agent parses the request there; the source's telemetry reports the destination side too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceReportsDestination;

/// An upstream socket (or tunnel stream) with its use, its deadline and its `maxConnections`
/// place.
pub(super) struct UpstreamConnection {
    stream: Box<dyn UpstreamIo>,
    usage: ConnectionUse,
    deadline: Option<Pin<Box<Sleep>>>,
    _place: Option<ConnectionPermit>,
}

impl UpstreamConnection {
    /// `stream`, closed once `max_duration` has passed and nothing is in flight.
    pub(super) fn new(
        stream: Box<dyn UpstreamIo>,
        place: Option<ConnectionPermit>,
        max_duration: Option<Duration>,
    ) -> Self {
        Self {
            stream,
            usage: ConnectionUse::new(),
            deadline: max_duration.map(|d| Box::pin(tokio::time::sleep(d))),
            _place: place,
        }
    }

    /// Whether the connection is to read as closed now: past its deadline and idle.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.deadline.as_mut() else {
            return false;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.usage.0.drained.register(cx.waker());
        self.usage.idle()
    }
}

impl Connection for UpstreamConnection {
    fn connected(&self) -> Connected {
        let tunnel = CarriedInTunnel(self.stream.in_tunnel());
        let connected = Connected::new().extra(self.usage.clone()).extra(tunnel);
        match self.stream.source_reports() {
            true => connected.extra(SourceReportsDestination),
            false => connected,
        }
    }
}

impl AsyncRead for UpstreamConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.expired(cx) {
            tracing::debug!("upstream connection reached maxConnectionDuration; closing");
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for UpstreamConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
