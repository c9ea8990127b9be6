//! The retry layer's metrics: retries sent, requests whose retries ran out, and retries the
//! policy wanted but that were skipped (body too large to buffer, `maxRetries` reached).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Why a request was not retried although its policy would have.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SkipReason {
    /// The request body passed the buffer bound; the request was sent once.
    body_too_large,
    /// The destination's `maxRetries` retries were already outstanding.
    budget_exhausted,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SkipLabels {
    reason: SkipReason,
}

/// Counters of the retry layer. `Default` gives unregistered counters (for tests).
#[derive(Clone, Debug, Default)]
pub struct RetryMetrics {
    retries: Counter,
    exhausted: Counter,
    skipped: Family<SkipLabels, Counter>,
}

impl RetryMetrics {
    /// Registers `mesh_retries_total`, `mesh_retries_exhausted_total` and
    /// `mesh_retries_skipped_total{reason}` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_retries",
            "Retries sent to upstream endpoints",
            metrics.retries.clone(),
        );
        registry.register(
            "mesh_retries_exhausted",
            "Requests that still failed when their retries ran out (flag URX)",
            metrics.exhausted.clone(),
        );
        registry.register(
            "mesh_retries_skipped",
            "Retries the policy allowed but that were not sent",
            metrics.skipped.clone(),
        );
        metrics
    }

    pub(super) fn retried(&self) {
        self.retries.inc();
    }

    pub(super) fn exhausted(&self) {
        self.exhausted.inc();
    }

    pub(super) fn skipped(&self, reason: SkipReason) {
        self.skipped.get_or_create(&SkipLabels { reason }).inc();
    }

    /// Retries sent so far.
    pub fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Requests whose retries ran out so far.
    pub fn exhausted_count(&self) -> u64 {
        self.exhausted.get()
    }

    /// Retries skipped so far for `reason`.
    pub fn skipped_count(&self, reason: SkipReason) -> u64 {
        self.skipped.get_or_create(&SkipLabels { reason }).get()
    }
}
