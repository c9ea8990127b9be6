//! Where the route layer sends a request, for the layers below: the destination Service, the
//! [`Balancer`] that picks among its endpoints (a cluster's, or a fixed address), and the
//! protocol spoken upstream.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::Request;

use super::body::Body;
use crate::lb::Pick;
use crate::resilience::breaker::UpstreamProtocol;
use crate::snapshot::{Cluster, Service as MeshService};

/// Where the route layer sent a request.
#[derive(Clone)]
pub struct RouteTarget {
    /// The destination Service, when the request was addressed to one.
    pub service: Option<Arc<MeshService>>,
    /// Picks the endpoint among the destination's.
    pub balancer: Arc<dyn Balancer>,
    /// How to speak to the endpoint.
    pub upstream: UpstreamProtocol,
}

/// A load-balancing policy: the endpoint for one request, `None` when there is none.
pub trait Balancer: Send + Sync {
    /// Picks the endpoint for `request` (a policy may hash its headers).
    fn pick(&self, request: &Request<Body>) -> Option<SocketAddr>;

    /// The pick with what it holds for the exchange (an in-flight count, a cookie to set).
    fn pick_for(&self, request: &Request<Body>) -> Option<Pick> {
        self.pick(request).map(Pick::at)
    }

    /// The cluster it picks in, when it is one (its endpoints, its traffic policy).
    fn cluster(&self) -> Option<&Arc<Cluster>> {
        None
    }

    /// `eligible` kept to the closest locality priority with room for this pick
    /// (`lb/locality.rs`); unchanged by default.
    fn closest(&self, eligible: Vec<SocketAddr>) -> Vec<SocketAddr> {
        eligible
    }
}

/// Always the same address: a destination that is not a Service, or the app behind inbound.
#[derive(Clone, Copy, Debug)]
pub struct Passthrough(pub SocketAddr);

impl Balancer for Passthrough {
    fn pick(&self, _: &Request<Body>) -> Option<SocketAddr> {
        Some(self.0)
    }
}

/// No endpoint at all: a route's destination host that the registry does not know (`UH`).
#[derive(Clone, Copy, Debug)]
pub struct Unreachable;

impl Balancer for Unreachable {
    fn pick(&self, _: &Request<Body>) -> Option<SocketAddr> {
        None
    }
}
