//! The L7 path: captured connections that speak HTTP/1.1, HTTP/2 or gRPC are served by hyper,
//! and each request goes through one stack of small tower layers (see [`request_stack`]) to a
//! pooled upstream connection.

pub mod answer;
mod authz;
mod balance;
mod body;
mod cluster_target;
mod downstream;
pub mod ext_authz;
mod hop_by_hop;
mod inbound_step;
mod jwt;
mod metrics;
mod path;
mod pod_requests;
mod pool;
mod rate_limit;
mod rate_limit_global;
mod rate_limit_metrics;
mod rescue;
mod resilient;
mod rls_client;
mod route;
mod route_rules;
mod server;
mod shadow;
mod stack;
mod target;
mod telemetry;
mod upgrade;

pub mod fault;
pub mod mirror;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

pub use body::{boxed, full, Body};
pub use downstream::{DownstreamTimeouts, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
pub use metrics::{HttpLabels, HttpMetrics, RequestOutcome};
pub use pod_requests::{PodOverloaded, RequestCaps, DEFAULT_MAX_REQUESTS_IN_FLIGHT_PER_POD};
pub use pool::{Origination, OriginationError, Originations, Pool, PoolTunnel};
pub use rate_limit_metrics::{Decision as RateLimitDecision, GlobalDecision, RateLimiting};
pub use rescue::{local_reply, status_and_flags};
pub use resilient::Resilience;
pub use route::{Direction, GatewayBinding, RouteClient};
pub use server::{serve, serve_drained, serve_stream};
pub use stack::{request_stack, RequestStack};
pub use target::{Balancer, Passthrough, RouteTarget};
pub use telemetry::{Observed, PeerSecurity, Peers};

/// How long detection waits for a client's first bytes on an undeclared port.
pub const DEFAULT_DETECT_WINDOW: Duration = Duration::from_millis(100);

/// How long a JWKS fetch may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What every HTTP connection shares.
pub struct HttpInputs {
    /// Istio's request metrics.
    pub metrics: HttpMetrics,
    /// How long protocol detection waits for the first bytes before treating a connection on an
    /// undeclared port as opaque TCP.
    pub detect_window: Duration,
    /// Tracing and access logs, fed by the telemetry layer.
    pub observers: crate::observe::RequestObservers,
    /// Traffic management shared by every connection: balancers, randomness, mirror counters.
    pub traffic: TrafficInputs,
    /// The agent's shutdown phase: connections drain and close with it.
    pub drain: crate::drain::Drain,
    /// The header-read and idle timeouts of downstream connections.
    pub downstream: DownstreamTimeouts,
    /// AuthorizationPolicies, decided at the destination (HTTP requests and TCP connections).
    pub authz: crate::authz::Authorizer,
    /// RequestAuthentications' token checks, with the remote key sets they fetched.
    pub jwt: crate::jwt::Authenticator,
    /// CUSTOM AuthorizationPolicies' external authorizers.
    pub ext_authz: ext_authz::ExtAuthz,
    /// The per-pod cap on requests in flight.
    pub request_caps: Arc<RequestCaps>,
}

/// What routing, faults, mirroring and load balancing share across connections.
#[derive(Clone, Default)]
pub struct TrafficInputs {
    /// Balancers of the clusters in use.
    pub balancers: Arc<crate::lb::Balancers>,
    /// Weighted destinations, fault and mirror percentages, random picks.
    pub chance: crate::chance::Chance,
    /// `mesh_mirror_*` counters.
    pub mirror_metrics: mirror::MirrorMetrics,
    /// Destinations' pools and outlier detectors, retry and outlier metrics.
    pub resilience: Resilience,
    /// EnvoyFilters' rate limits: the node's token buckets, the rate limit service's client
    /// and their counters.
    pub rate_limits: RateLimiting,
}

impl HttpInputs {
    /// Registers the HTTP metrics in `registry`; detection waits `detect_window`.
    pub fn register(registry: &mut Registry, detect_window: Duration) -> Arc<Self> {
        Arc::new(Self {
            metrics: HttpMetrics::register(registry),
            detect_window,
            observers: crate::observe::RequestObservers::register(registry),
            traffic: TrafficInputs {
                mirror_metrics: mirror::MirrorMetrics::register(registry),
                resilience: Resilience::register(registry),
                rate_limits: RateLimiting::register(registry),
                ..TrafficInputs::default()
            },
            drain: crate::drain::Drain::default(),
            downstream: DownstreamTimeouts::default(),
            authz: crate::authz::Authorizer::register(registry),
            jwt: crate::jwt::Authenticator::new(crate::jwt::JwksCache::new(Arc::new(
                crate::net::WebClient::new(JWKS_FETCH_TIMEOUT),
            ))),
            ext_authz: ext_authz::ExtAuthz::default(),
            request_caps: Arc::new(RequestCaps::default().register(registry)),
        })
    }
}
