//! Downstream HTTP connections that hold the agent without using it: a client that starts a
//! request head and never finishes it (slowloris) is cut `header_read` after its first
//! byte, and a connection without a request in flight for `idle` is shut down gracefully
//! (Envoy's `request_headers_timeout` and `idle_timeout`). hyper's own header timeout also
//! runs while a kept-alive connection waits, so it would cut idle clients: the head's clock
//! here starts at the first byte read with no request in flight (HTTP/1 only).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a started request head may take, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may go without a request in flight, by default (Envoy's).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// The downstream HTTP timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DownstreamTimeouts {
    /// From a head's first byte to its end.
    pub header_read: Duration,
    /// Without a request in flight.
    pub idle: Duration,
}

impl Default for DownstreamTimeouts {
    fn default() -> Self {
        Self {
            header_read: DEFAULT_HEADER_READ_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Why a connection is ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overdue {
    /// A request head took too long: cut.
    HeaderRead,
    /// No request for too long: shut down gracefully.
    Idle,
}

/// What one connection has been doing.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Wakes the watcher when a head starts or a request starts or ends.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    head_started: Option<Instant>,
    idle_since: Instant,
}

impl Activity {
    /// A connection just accepted: idle from now.
    pub fn new() -> Arc<Self> {
        let state = State {
            in_flight: 0,
            head_started: None,
            idle_since: Instant::now(),
        };
        Arc::new(Self {
            state: Mutex::new(state),
            changed: Notify::new(),
        })
    }

    fn read_bytes(&self) {
        let mut state = self.state.lock().expect("not poisoned");
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            self.changed.notify_one();
        }
    }

    /// A request's head was read: in flight until the guard (kept with its response body)
    /// drops.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        let mut state = self.state.lock().expect("not poisoned");
        state.in_flight += 1;
        state.head_started = None;
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// Waits until the connection is overdue under `timeouts` (the head's clock only while
    /// `heads_timed` says it runs: HTTP/1).
    pub async fn overdue(
        &self,
        timeouts: DownstreamTimeouts,
        heads_timed: impl Fn() -> bool,
    ) -> Overdue {
        loop {
            let (deadline, reason) = self.next_deadline(timeouts, heads_timed());
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.changed.notified() => continue,
            }
            let (deadline, again) = self.next_deadline(timeouts, heads_timed());
            if deadline <= Instant::now() && again == reason {
                return reason;
            }
        }
    }

    fn next_deadline(&self, timeouts: DownstreamTimeouts, heads_timed: bool) -> (Instant, Overdue) {
        let state = self.state.lock().expect("not poisoned");
        let far = Instant::now() + timeouts.idle.max(timeouts.header_read);
        match (state.head_started, state.in_flight) {
            (Some(started), _) if heads_timed => {
                (started + timeouts.header_read, Overdue::HeaderRead)
            }
            (_, 0) => (state.idle_since + timeouts.idle, Overdue::Idle),
            _ => (far, Overdue::Idle),
        }
    }
}

/// One request in flight.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().expect("not poisoned");
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            self.0.changed.notify_one();
        }
    }
}

/// The client's socket, noting when bytes arrive.
pub struct ActivityIo<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I> ActivityIo<I> {
    /// `io`, its reads noted in `activity`.
    pub fn new(io: I, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ActivityIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read_bytes();
        }
        read
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ActivityIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: DownstreamTimeouts = DownstreamTimeouts {
        header_read: Duration::from_secs(1),
        idle: Duration::from_secs(10),
    };

    #[tokio::test(start_paused = true)]
    async fn a_started_head_is_overdue_after_the_header_timeout() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.read_bytes();
        let start = Instant::now();
        assert_eq!(activity.overdue(SHORT, || true).await, Overdue::HeaderRead);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_never_idle_and_idleness_counts_from_its_end() {
        let activity = Activity::new();
        activity.read_bytes();
        let request = activity.request_started();
        let overdue =
            tokio::time::timeout(Duration::from_secs(100), activity.overdue(SHORT, || true));
        assert!(
            overdue.await.is_err(),
            "nothing is overdue with a request in flight"
        );
        activity.read_bytes();
        drop(request);
        let start = Instant::now();
        assert_eq!(activity.overdue(SHORT, || true).await, Overdue::Idle);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn without_timed_heads_a_started_head_waits_for_the_idle_timeout() {
        let activity = Activity::new();
        activity.read_bytes();
        assert_eq!(activity.overdue(SHORT, || false).await, Overdue::Idle);
    }
}
