//! Circuit breaking (DestinationRule `connectionPool`): limits on one destination's connections,
//! requests and waiting requests, held for the whole node; a request over a limit is answered at
//! once with [`Overflow`] (503, flag `UO`) and nothing waits beyond `http1MaxPendingRequests`.

mod connections;
mod destinations;
pub mod layer;
pub mod limits;

use std::time::Duration;

pub use destinations::DestinationPools;
pub use layer::{CircuitBreaker, CircuitBreakerLayer, PermitBody};
pub use limits::{Destination, DestinationPool, PoolPermit};

/// "No limit": Istio's default for every count below (2³² − 1).
pub const UNLIMITED: u32 = u32::MAX;

/// A destination's `connectionPool` settings, compiled. Counts use [`UNLIMITED`] for unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionPoolPolicy {
    /// `tcp.maxConnections`: connections to the destination, all endpoints together.
    pub max_connections: u32,
    /// `tcp.connectTimeout`; `None`: the agent's own (`--connect-timeout-ms`).
    pub connect_timeout: Option<Duration>,
    /// `tcp.maxConnectionDuration`: a connection is closed after this long; `None`: never.
    pub max_connection_duration: Option<Duration>,
    /// `tcp.idleTimeout`: a proxied TCP connection with no bytes either way for this long is
    /// closed (Istio: 1 h; `0s`: never).
    pub tcp_idle_timeout: Duration,
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    pub max_pending_requests: u32,
    /// `http.http2MaxRequests`: requests in flight (any HTTP version, as in Envoy).
    pub max_requests: u32,
    /// `http.maxRequestsPerConnection`: a connection is closed after this many; `None`: never.
    pub max_requests_per_connection: Option<u32>,
    /// `http.maxRetries`: retries outstanding at once.
    pub max_retries: u32,
    /// `http.maxConcurrentStreams`: HTTP/2 streams per upstream connection.
    pub max_concurrent_streams: u32,
    /// `http.idleTimeout`: an upstream connection idle this long is closed (Envoy: 1 h).
    pub idle_timeout: Duration,
}

impl Default for ConnectionPoolPolicy {
    /// Istio's defaults: no limits, the agent's connect timeout, 1 h idle timeouts.
    fn default() -> Self {
        Self {
            max_connections: UNLIMITED,
            connect_timeout: None,
            max_connection_duration: None,
            tcp_idle_timeout: Duration::from_secs(3600),
            max_pending_requests: UNLIMITED,
            max_requests: UNLIMITED,
            max_requests_per_connection: None,
            max_retries: UNLIMITED,
            max_concurrent_streams: i32::MAX as u32,
            idle_timeout: Duration::from_secs(3600),
        }
    }
}

/// The upstream protocol of a destination: how many requests one connection carries at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// One request per connection at a time.
    Http1,
    /// Up to `maxConcurrentStreams` requests per connection.
    Http2,
}

impl ConnectionPoolPolicy {
    /// Whether an upstream connection that has served `served` requests and is `age` old may
    /// carry another request (`maxRequestsPerConnection`, `maxConnectionDuration`).
    pub fn reusable(&self, served: u32, age: Duration) -> bool {
        let fresh_enough = self.max_connection_duration.is_none_or(|max| age < max);
        let not_worn = self
            .max_requests_per_connection
            .is_none_or(|max| served < max);
        fresh_enough && not_worn
    }

    /// Whether an upstream connection idle for `idle` is to be closed (`idleTimeout`).
    pub fn idle_expired(&self, idle: Duration) -> bool {
        idle >= self.idle_timeout
    }

    /// Requests in flight the destination's connections can carry at once.
    pub fn request_slots(&self, protocol: UpstreamProtocol) -> u64 {
        let per_connection = match protocol {
            UpstreamProtocol::Http1 => 1,
            UpstreamProtocol::Http2 => u64::from(self.max_concurrent_streams.max(1)),
        };
        u64::from(self.max_connections).saturating_mul(per_connection)
    }
}

/// The limit a request or connection ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolLimit {
    /// `tcp.maxConnections`.
    Connections,
    /// `http.http1MaxPendingRequests`.
    PendingRequests,
    /// `http.http2MaxRequests`.
    Requests,
}

/// A destination's limit was reached: answered at once with 503, flag `UO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upstream overflow: {limit:?} limit of {max} reached")]
pub struct Overflow {
    /// Which limit.
    pub limit: PoolLimit,
    /// Its value.
    pub max: u32,
}

impl Overflow {
    /// Envoy's response flag for an upstream overflow (circuit breaker open).
    pub const RESPONSE_FLAG: &'static str = "UO";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_reused_within_their_limits() {
        let s = Duration::from_secs;
        let limited = ConnectionPoolPolicy {
            max_requests_per_connection: Some(1),
            max_connection_duration: Some(s(60)),
            ..Default::default()
        };
        let table = [
            (ConnectionPoolPolicy::default(), 1_000_000, s(86_400), true),
            (limited, 0, s(0), true),
            (limited, 1, s(0), false),
            (limited, 0, s(59), true),
            (limited, 0, s(60), false),
        ];
        for (policy, served, age, want) in table {
            assert_eq!(
                policy.reusable(served, age),
                want,
                "{served} served, {age:?} old"
            );
        }
        assert!(!ConnectionPoolPolicy::default().idle_expired(s(3599)));
        assert!(ConnectionPoolPolicy::default().idle_expired(s(3600)));
    }

    #[test]
    fn request_slots_follow_the_protocol() {
        let policy = ConnectionPoolPolicy {
            max_connections: 2,
            max_concurrent_streams: 100,
            ..Default::default()
        };
        assert_eq!(policy.request_slots(UpstreamProtocol::Http1), 2);
        assert_eq!(policy.request_slots(UpstreamProtocol::Http2), 200);
        let unlimited = ConnectionPoolPolicy::default().request_slots(UpstreamProtocol::Http2);
        assert!(unlimited > u64::from(u32::MAX));
    }
}
