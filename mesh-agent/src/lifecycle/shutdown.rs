//! Shutting down by draining, failing open: the pods are unenrolled first (their new connections
//! go directly to their destinations, their listeners close) — or, failing closed, only their
//! listeners close and they stay captured (their new connections are refused) — then the agent
//! drains what it already carries — HTTP requests in flight finish, kept-alive connections are told to close,
//! L4 connections go on — until none is left or the drain time ends; what is still open then is
//! closed. A second signal ends the drain at once. After a hand-over on upgrade only the
//! connections drain: the pods are the successor's.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::FailureMode;
use crate::drain::{Drain, Phase};
use crate::pods::EnrolledPods;

/// How long the agent drains by default: a few seconds below the DaemonSet's 30 s
/// `terminationGracePeriodSeconds`.
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(25);

/// How often the drain logs what is still open.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Drains as the module says; returns once every connection has ended or been closed.
pub async fn drain(
    pods: &EnrolledPods,
    mode: FailureMode,
    drain: &Drain,
    drain_time: Duration,
    second_signal: impl Future<Output = ()>,
) {
    if mode.unenrolls_on_shutdown() {
        tracing::info!(
            open = drain.open(),
            "draining: unenrolling pods, so their new connections go direct (fail open)"
        );
        pods.remove_all().await;
    } else {
        tracing::info!(
            open = drain.open(),
            "draining: closing the pods' listeners, leaving them captured, so their new connections are refused until an agent is back (fail closed)"
        );
        pods.release_all().await;
    }
    drain_connections(drain, drain_time, second_signal).await;
}

/// Drains what the agent carries, its pods left as they are (unenrolled on shutdown, handed to a
/// successor on upgrade); returns once every connection has ended or been closed.
pub async fn drain_connections(
    drain: &Drain,
    drain_time: Duration,
    second_signal: impl Future<Output = ()>,
) {
    drain.enter(Phase::Draining);
    tracing::info!(
        open = drain.open(),
        ?drain_time,
        "draining: accepting nothing new; HTTP connections finish their requests and close, L4 connections go on"
    );
    let deadline = Instant::now() + drain_time;
    tokio::select! {
        () = all_closed(drain, deadline) => {}
        () = second_signal => tracing::warn!(open = drain.open(), "second signal: closing now"),
    }
    if drain.open() > 0 {
        tracing::info!(
            open = drain.open(),
            "drain time over: closing the connections still open"
        );
    }
    drain.enter(Phase::Closing);
    // The connections' tasks see the phase and drop their sockets on their next poll.
    let closed = async {
        while drain.open() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), closed).await;
    tracing::info!(open = drain.open(), "drained");
}

/// Resolves when no connection is open, or at `deadline`; logs the count every few seconds.
async fn all_closed(drain: &Drain, deadline: Instant) {
    let mut next_report = Instant::now() + REPORT_EVERY;
    while drain.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if Instant::now() >= next_report {
            let left = deadline.saturating_duration_since(Instant::now());
            tracing::info!(open = drain.open(), ?left, "draining");
            next_report += REPORT_EVERY;
        }
    }
}
