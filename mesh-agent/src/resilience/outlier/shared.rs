//! The outlier detector of a destination shared by every request the node sends there, on
//! tokio's clock, with the periodic sweep that returns ejected endpoints.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use super::detector::{EndpointState, OutlierDetector};
use super::EjectionReason;
use crate::resilience::outcome::Outcome;

/// A detector shared by every request to its destination on this node, on tokio's clock.
#[derive(Clone, Debug)]
pub struct SharedDetector {
    inner: Arc<Mutex<OutlierDetector>>,
}

impl SharedDetector {
    /// Shares `detector`.
    pub fn new(detector: OutlierDetector) -> Self {
        Self {
            inner: Arc::new(Mutex::new(detector)),
        }
    }

    /// [`OutlierDetector::observe`] now.
    pub fn observe(&self, endpoint: SocketAddr, outcome: &Outcome) -> Option<EjectionReason> {
        self.lock().observe(endpoint, outcome, Instant::now())
    }

    /// [`OutlierDetector::eligible`] now.
    pub fn eligible(&self, candidates: &[SocketAddr]) -> Vec<SocketAddr> {
        self.lock().eligible(candidates, Instant::now())
    }

    /// Whether no endpoint is ejected now: every candidate is then eligible.
    pub fn ejects_none(&self) -> bool {
        self.lock().ejects_none(Instant::now())
    }

    /// [`OutlierDetector::snapshot`] now, after a sweep if one is due.
    pub fn snapshot(&self) -> Vec<EndpointState> {
        let mut detector = self.lock();
        detector.sweep_if_due(Instant::now());
        detector.snapshot(Instant::now())
    }

    /// Sweeps every `interval` until the last other handle is dropped (spawn it per destination).
    pub async fn run_sweeps(self) {
        let weak = Arc::downgrade(&self.inner);
        drop(self);
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let next = inner.lock().unwrap_or_else(|p| p.into_inner()).next_sweep;
            drop(inner);
            tokio::time::sleep_until(next).await;
            let Some(inner) = weak.upgrade() else { return };
            inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sweep_if_due(Instant::now());
        }
    }

    /// The detector itself, locked.
    pub fn lock(&self) -> MutexGuard<'_, OutlierDetector> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
