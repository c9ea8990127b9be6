//! What every connection's local rate limiter shares: the node's token buckets and
//! `mesh_local_rate_limit_requests_total{stat_prefix, decision}` (Envoy's `ok`,
//! `rate_limited` and `enforced` statistics; `stat_prefix` comes from configuration, so the
//! series stay bounded).

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::ratelimit::Buckets;

/// What every connection's limiter shares: the node's buckets and the counters.
#[derive(Clone, Debug, Default)]
pub struct LocalRateLimiting {
    buckets: Arc<Buckets>,
    metrics: RateLimitMetrics,
}

impl LocalRateLimiting {
    /// Registers `mesh_local_rate_limit_requests_total`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = RateLimitMetrics::default();
        registry.register(
            "mesh_local_rate_limit_requests",
            "Requests checked by a local rate limit, by stat_prefix and decision (ok, \
             rate_limited: counted only, enforced: refused)",
            metrics.0.clone(),
        );
        Self {
            buckets: Arc::default(),
            metrics,
        }
    }

    /// The node's token buckets.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Counts one request with `stat_prefix` and `decision`.
    pub fn counted(&self, stat_prefix: &str, decision: Decision) {
        let labels = RateLimitLabels {
            stat_prefix: stat_prefix.into(),
            decision,
        };
        self.metrics.0.get_or_create(&labels).inc();
    }

    /// Requests counted with `stat_prefix` and `decision`.
    pub fn count(&self, stat_prefix: &str, decision: Decision) -> u64 {
        let labels = RateLimitLabels {
            stat_prefix: stat_prefix.into(),
            decision,
        };
        self.metrics.0.get_or_create(&labels).get()
    }
}

#[derive(Clone, Debug, Default)]
struct RateLimitMetrics(Family<RateLimitLabels, Counter>);

/// What a local rate limit decided.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Decision {
    ok,
    rate_limited,
    enforced,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RateLimitLabels {
    stat_prefix: String,
    decision: Decision,
}
