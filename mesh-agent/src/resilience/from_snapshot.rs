//! From the snapshot's resources to the compiled resilience policies: a route's `timeout` and
//! `retries` (else the MeshConfig `defaultHttpRetryPolicy`), a cluster's merged
//! `connectionPool` and `outlierDetection`. The old `consecutiveErrors` keeps Istio's meaning
//! here: it counts only 502/503/504 ([`OutlierPolicy::with_consecutive_errors`]).

use std::time::Duration;

use super::retry::{Condition, RetryOn};
use super::{ConnectionPoolPolicy, OutlierPolicy, RetryPolicy};
use crate::resources::{ConnectionPool, HttpRoute, OutlierDetection, Retry};

/// The route's overall deadline: its `timeout`; none, or `0s`, is no deadline (Istio's default).
pub fn route_deadline(route: &HttpRoute) -> Option<Duration> {
    route
        .timeout
        .as_ref()
        .map(|t| t.value)
        .filter(|t| !t.is_zero())
}

/// The retry policy of `route` (none: a request that matched no rule), else the mesh's default,
/// whose `retriable-status-codes` means 503 as in Istio's default policy.
pub fn retry_policy(route: Option<&HttpRoute>, mesh_default: &Retry) -> RetryPolicy {
    if let Some(retries) = route.and_then(|r| r.retries.as_ref()) {
        return compile_retry(retries);
    }
    let mut policy = compile_retry(mesh_default);
    if policy.retry_on.has(Condition::RetriableStatusCodes) {
        policy.retry_on = policy.retry_on.with_status(503);
    }
    policy
}

/// One `retries` block: `attempts`, `perTryTimeout`, `retryOn` (absent or unreadable: Istio's
/// default conditions).
pub fn compile_retry(retry: &Retry) -> RetryPolicy {
    let retry_on = match retry.retry_on.as_deref().map(str::trim) {
        None | Some("") => RetryOn::mesh_default(),
        Some(text) => RetryPolicy::parse_retry_on(text).unwrap_or_else(|error| {
            tracing::warn!(%error, "retryOn not understood; using the default conditions");
            RetryOn::mesh_default()
        }),
    };
    let per_try = retry.per_try_timeout.as_ref().map(|t| t.value);
    RetryPolicy::new(retry.attempts, per_try.filter(|t| !t.is_zero()), retry_on)
}

/// A cluster's `outlierDetection`, Istio's defaults for what it leaves out; a count of 0
/// turns its check off.
pub fn outlier_policy(outlier: &OutlierDetection) -> OutlierPolicy {
    let count = |n: u32| (n > 0).then_some(n);
    let mut policy = OutlierPolicy::default();
    if let Some(n) = outlier.consecutive_errors {
        policy = policy.with_consecutive_errors(n);
        policy.consecutive_gateway = count(n); // 0 turns it off
    }
    if let Some(n) = outlier.consecutive_5xx_errors {
        policy.consecutive_5xx = count(n);
    }
    if let Some(n) = outlier.consecutive_gateway_errors {
        policy.consecutive_gateway = count(n);
    }
    if let Some(n) = outlier.consecutive_local_origin_failures {
        policy.consecutive_local_origin = count(n);
    }
    if let Some(split) = outlier.split_external_local_origin_errors {
        policy.split_external_local_origin_errors = split;
    }
    let value = |d: &Option<crate::resources::Duration>| d.as_ref().map(|d| d.value);
    policy.interval = value(&outlier.interval).unwrap_or(policy.interval);
    policy.base_ejection_time =
        value(&outlier.base_ejection_time).unwrap_or(policy.base_ejection_time);
    policy.max_ejection_percent = outlier
        .max_ejection_percent
        .unwrap_or(policy.max_ejection_percent);
    policy.min_health_percent = outlier
        .min_health_percent
        .unwrap_or(policy.min_health_percent);
    policy
}

/// A cluster's `connectionPool`, Istio's defaults (no limits) for what it leaves out.
pub fn pool_policy(pool: &ConnectionPool) -> ConnectionPoolPolicy {
    let mut policy = ConnectionPoolPolicy::default();
    let value = |d: &Option<crate::resources::Duration>| d.as_ref().map(|d| d.value);
    if let Some(tcp) = &pool.tcp {
        policy.max_connections = tcp.max_connections.unwrap_or(policy.max_connections);
        policy.connect_timeout = value(&tcp.connect_timeout).filter(|t| !t.is_zero());
        policy.max_connection_duration =
            value(&tcp.max_connection_duration).filter(|t| !t.is_zero());
        policy.tcp_idle_timeout = value(&tcp.idle_timeout).unwrap_or(policy.tcp_idle_timeout);
    }
    if let Some(http) = &pool.http {
        let or = |v: Option<u32>, default: u32| v.filter(|n| *n > 0).unwrap_or(default);
        policy.max_pending_requests =
            or(http.http1_max_pending_requests, policy.max_pending_requests);
        policy.max_requests = or(http.http2_max_requests, policy.max_requests);
        policy.max_requests_per_connection = http.max_requests_per_connection.filter(|n| *n > 0);
        policy.max_retries = http.max_retries.unwrap_or(policy.max_retries);
        policy.max_concurrent_streams =
            or(http.max_concurrent_streams, policy.max_concurrent_streams);
        policy.idle_timeout = value(&http.idle_timeout).unwrap_or(policy.idle_timeout);
    }
    policy
}

#[cfg(test)]
#[path = "from_snapshot_tests.rs"]
mod tests;
