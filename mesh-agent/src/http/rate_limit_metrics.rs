//! What every connection's rate limiter shares: the node's token buckets,
//! `mesh_local_rate_limit_requests_total{stat_prefix, decision}` (Envoy's `ok`,
//! `rate_limited` and `enforced` statistics; `stat_prefix` comes from configuration, so the
//! series stay bounded), the rate limit service's client and
//! `mesh_global_rate_limit_requests_total{domain, decision}` (Envoy's `ok`, `over_limit`,
//! `error`, `failure_mode_allowed`; `domain` comes from configuration).

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::rls_client::RateLimitServiceClient;
use crate::ratelimit::Buckets;

/// What every connection's limiter shares: the node's buckets, the service's client and the
/// counters.
#[derive(Clone, Debug, Default)]
pub struct RateLimiting {
    buckets: Arc<Buckets>,
    metrics: RateLimitMetrics,
    global: Family<GlobalLabels, Counter>,
    service: RateLimitServiceClient,
}

impl RateLimiting {
    /// Registers `mesh_local_rate_limit_requests_total` and
    /// `mesh_global_rate_limit_requests_total`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = RateLimitMetrics::default();
        registry.register(
            "mesh_local_rate_limit_requests",
            "Requests checked by a local rate limit, by stat_prefix and decision (ok, \
             rate_limited: counted only, enforced: refused)",
            metrics.0.clone(),
        );
        let global = Family::default();
        registry.register(
            "mesh_global_rate_limit_requests",
            "Requests asked about to a rate limit service, by domain and decision (ok, \
             over_limit: refused, error: the service failed and the request was refused, \
             failure_mode_allowed: it failed and the request passed)",
            global.clone(),
        );
        Self {
            buckets: Arc::default(),
            metrics,
            global,
            service: RateLimitServiceClient::default(),
        }
    }

    /// The rate limit service's client.
    pub fn service(&self) -> &RateLimitServiceClient {
        &self.service
    }

    /// Counts one request asked about in `domain` with `decision`.
    pub fn counted_global(&self, domain: &str, decision: GlobalDecision) {
        let labels = GlobalLabels {
            domain: domain.into(),
            decision,
        };
        self.global.get_or_create(&labels).inc();
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

/// What a global rate limit decided.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum GlobalDecision {
    ok,
    over_limit,
    error,
    failure_mode_allowed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GlobalLabels {
    domain: String,
    decision: GlobalDecision,
}
