//! The request stack, assembled in one place, outer to inner (DESIGN §3).

use std::convert::Infallible;

use hyper::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use super::authz::AuthzLayer;
use super::balance::BalanceLayer;
use super::body::{boxed, Body};
use super::fault::FaultLayer;
use super::jwt::JwtLayer;
use super::mirror::{MirrorLayer, DEFAULT_MIRROR_BODY_LIMIT};
use super::pod_requests::PodRequestsLayer;
use super::pool::Pool;
use super::rate_limit::RateLimitLayer;
use super::rescue::RescueLayer;
use super::resilient::DestinationLayer;
use super::route::{Direction, RouteClient, RouteLayer};
use super::target::RouteTarget;
use super::telemetry::{DestinationReportLayer, Peers, TelemetryLayer};
use super::HttpInputs;
use crate::pipeline::ConfigState;
use crate::resilience::breaker::{
    CircuitBreakerLayer, ConnectionPoolPolicy, DestinationPool, PermitBody, UpstreamProtocol,
};
use crate::resilience::outlier::OutlierReportLayer;
use crate::resilience::retry::RetryBody;
use crate::resilience::{RetryLayer, RetryPolicy, RouteTimeoutLayer};

/// The stack that carries every request of one connection.
pub type RequestStack = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Builds the request stack of a connection between `peers`, going `direction`, whose
/// requests leave through `pool`.
///
/// The order, outer to inner (slots not built yet in brackets, where they will go):
/// telemetry → error-to-response → the pod's requests in flight → route → JWT authentication → authorization → rate limit →
/// fault → mirror → destination (the request's resilience context) → timeout → retry →
/// balancer → circuit breaker → outlier report → destination report → pool.
pub fn request_stack(
    inputs: &HttpInputs,
    config: ConfigState,
    peers: Peers,
    direction: Direction,
    pool: Pool,
) -> RequestStack {
    let traffic = &inputs.traffic;
    let client = RouteClient {
        source: peers.source.clone(),
        source_ip: peers.pod_ip,
        balancers: traffic.balancers.clone(),
        chance: traffic.chance.clone(),
    };
    let config_for_destinations = config.clone();
    // Pools are kept per pod, as its sidecar would: the pod whose side this connection is.
    let own = match direction {
        Direction::Inbound { .. } => peers.destination.as_ref(),
        Direction::Outbound { .. } | Direction::Gateway { .. } => peers.source.as_ref(),
    };
    let source: std::sync::Arc<str> = own.map_or_else(
        || "".into(),
        |w| format!("{}/{}", w.namespace, w.pod_name).into(),
    );
    let rate_limit = RateLimitLayer::new(
        traffic.rate_limits.clone(),
        config.clone(),
        traffic.chance.clone(),
        &peers,
        direction,
    );
    let pod_requests = PodRequestsLayer {
        caps: inputs.request_caps.clone(),
        pod: source.clone(),
        own: own.and_then(|w| w.limits.max_requests_in_flight),
    };
    let jwt = JwtLayer::new(&inputs.jwt, config.clone(), &peers, direction);
    let authz = AuthzLayer::new(
        (&inputs.authz, &inputs.ext_authz),
        config.clone(),
        &peers,
        direction,
    );
    let destination_report = DestinationReportLayer::new(
        inputs.metrics.clone(),
        config.clone(),
        &peers,
        inputs.observers.clone(),
    );
    let stack = ServiceBuilder::new()
        // Outermost, so every request is counted once, local replies and their flags included.
        .layer(TelemetryLayer::new(
            inputs.metrics.clone(),
            config.clone(),
            peers,
            inputs.observers.clone(),
        ))
        // The only place that turns a failure below into a status code and response flags.
        .layer(RescueLayer)
        // Before any work: a pod at its cap of requests in flight gets 503 `OM` at once.
        .layer(pod_requests)
        // Matches once; every layer below reads its slice of the chosen route.
        .layer(RouteLayer::new(config, direction).for_client(client))
        // Inbound only, once the request is known to be for the app, before authorization
        // (which reads the end user it finds); a refused token never reaches the app.
        .layer(jwt)
        // Inbound only, once the request is known to be for the app; a denial never reaches
        // a fault, a mirror or the app.
        .layer(authz)
        // Below the route (a route's limit and descriptors need it); refusals reach nothing below.
        .layer(rate_limit)
        // After the route (its rule holds the fault); aborts never reach a mirror or upstream.
        .layer(FaultLayer::new(traffic.chance.clone()))
        // Copies go through everything below, each to its own mirror's endpoints.
        .layer(MirrorLayer::<RouteTarget>::new(
            traffic.chance.clone(),
            traffic.mirror_metrics.clone(),
            DEFAULT_MIRROR_BODY_LIMIT,
        ))
        // Below the mirror, so copies get their own destination's timeout, pools and detector.
        .layer(
            DestinationLayer::new(traffic.resilience.clone(), config_for_destinations)
                .for_source(source),
        )
        // The route `timeout`, over every try and backoff.
        .layer(RouteTimeoutLayer::new(None))
        .layer(RetryLayer::new(
            RetryPolicy::disabled(),
            traffic.resilience.retry_metrics.clone(),
        ))
        .map_request(|request: Request<RetryBody<Body>>| request.map(boxed))
        // Below retry, so each try may go to another endpoint (an untried, not ejected one).
        .layer(BalanceLayer)
        // Per source pod and destination (host + subset): an overflow is answered at once (`UO`).
        .map_response(|response: Response<PermitBody<Body>>| response.map(boxed))
        .layer(CircuitBreakerLayer::new(unlimited_pool()))
        // Each try's outcome, per endpoint, to the destination's outlier detector.
        .layer(OutlierReportLayer)
        // Per try, as the destination would count it: the destination side of the tries a
        // destination carried at L4 (the source reports for it).
        .layer(destination_report)
        // Innermost: pooled upstream connections per endpoint, opened in the pod's netns.
        .service(pool);
    BoxCloneSyncService::new(stack)
}

/// The accounting of requests to no configured destination: no limits.
fn unlimited_pool() -> DestinationPool {
    DestinationPool::new(ConnectionPoolPolicy::default(), UpstreamProtocol::Http1)
}
