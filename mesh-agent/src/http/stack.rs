//! The request stack, assembled in one place, outer to inner (DESIGN §3).

use std::convert::Infallible;

use hyper::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use super::balance::BalanceLayer;
use super::body::Body;
use super::fault::FaultLayer;
use super::mirror::{MirrorLayer, DEFAULT_MIRROR_BODY_LIMIT};
use super::pool::Pool;
use super::rescue::RescueLayer;
use super::route::{Direction, RouteClient, RouteLayer, RouteTarget};
use super::telemetry::{Peers, TelemetryLayer};
use super::HttpInputs;
use crate::pipeline::ConfigState;

/// The stack that carries every request of one connection.
pub type RequestStack = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Builds the request stack of a connection between `peers`, going `direction`, whose
/// requests leave through `pool`.
///
/// The order, outer to inner (slots not built yet in brackets, where they will go):
/// telemetry → error-to-response → route → [authorization → rate limit] → fault → mirror →
/// [timeout → retry] → balancer → [circuit breaker / outlier detector] → pool.
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
        // Matches once; every layer below reads its slice of the chosen route.
        .layer(RouteLayer::new(config, direction).for_client(client))
        // After the route (its rule holds the fault); aborts never reach a mirror or upstream.
        .layer(FaultLayer::new(traffic.chance.clone()))
        // Copies go through everything below, each to its own mirror's endpoints.
        .layer(MirrorLayer::<RouteTarget>::new(
            traffic.chance.clone(),
            traffic.mirror_metrics.clone(),
            DEFAULT_MIRROR_BODY_LIMIT,
        ))
        // Below retry (once built), so each attempt may go to another endpoint.
        .layer(BalanceLayer)
        // Innermost: pooled upstream connections per endpoint, opened in the pod's netns.
        .service(pool);
    BoxCloneSyncService::new(stack)
}
