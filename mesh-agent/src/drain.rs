//! Draining: the phases an agent goes through when it stops (serving → draining → closing),
//! which accept loops and connections watch, and the count of connections still open.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// Where the agent is in its shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Serving,
    /// Accepting nothing new; HTTP connections finish their requests (HTTP/1 answers
    /// `Connection: close`, idle ones close, HTTP/2 gets GOAWAY); L4 connections go on.
    Draining,
    /// The drain time is over: every connection still open is closed.
    Closing,
}

/// A shared handle on the agent's shutdown phase; clones see the same phase and count.
#[derive(Clone, Debug)]
pub struct Drain {
    phase: Arc<watch::Sender<Phase>>,
    open: Arc<AtomicUsize>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            phase: Arc::new(watch::Sender::new(Phase::Serving)),
            open: Arc::default(),
        }
    }
}

impl Drain {
    /// The phase now.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves on to `phase` (never back).
    pub fn enter(&self, phase: Phase) {
        self.phase.send_if_modified(|now| {
            let later = phase > *now;
            if later {
                *now = phase;
            }
            later
        });
    }

    /// Resolves once the agent drains (or closes).
    pub async fn draining(&self) {
        self.reached(Phase::Draining).await;
    }

    /// Resolves once the drain time is over.
    pub async fn closing(&self) {
        self.reached(Phase::Closing).await;
    }

    async fn reached(&self, phase: Phase) {
        let mut phases = self.phase.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = phases.wait_for(|now| *now >= phase).await;
    }

    /// Connections accepted and not finished yet.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// `connection`, counted as open until it ends, and ended (its sockets dropped, so closed)
    /// when the drain time is over.
    pub fn track(&self, connection: impl Future<Output = ()>) -> impl Future<Output = ()> {
        let drain = self.clone();
        drain.open.fetch_add(1, Ordering::Relaxed);
        let guard = OpenGuard(drain.open.clone());
        async move {
            let _guard = guard;
            tokio::select! {
                () = connection => {}
                () = drain.closing() => {}
            }
        }
    }
}

/// Counts one connection open until dropped.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tracked_connection_counts_until_it_ends_and_is_cut_at_closing() {
        let drain = Drain::default();
        let (_never, pending) = tokio::sync::oneshot::channel::<()>();
        let cut = tokio::spawn(drain.track(async {
            let _ = pending.await;
        }));
        let done = tokio::spawn(drain.track(async {}));
        done.await.unwrap();
        assert_eq!(drain.open(), 1);
        drain.enter(Phase::Draining);
        tokio::task::yield_now().await;
        assert!(!cut.is_finished(), "draining leaves connections alone");
        drain.enter(Phase::Closing);
        cut.await.unwrap();
        assert_eq!(drain.open(), 0);
    }

    #[tokio::test]
    async fn phases_only_move_forward() {
        let drain = Drain::default();
        drain.enter(Phase::Closing);
        drain.enter(Phase::Draining);
        assert_eq!(drain.phase(), Phase::Closing);
        drain.draining().await;
    }
}
