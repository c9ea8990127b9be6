//! The route layer: decides once where a request goes and puts that decision, a
//! [`RouteTarget`], into the request's extensions; later layers read their slice of it.
//!
//! Today the decision is the L4 one made per request: the Service behind the original
//! destination, balanced over all its endpoints (or the original destination itself when it is
//! not a Service); inbound, the app in the pod. The compiled snapshot's VirtualService routes
//! plug in at [`Route::target`]: match the request, pick the weighted destination, and answer
//! [`NoRoute`](super::errors::NoRoute) when rules exist and none matches.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response, Version};
use tower::{Layer, Service, ServiceExt};

use super::balance::{Balancer, Passthrough};
use super::body::{Body, BoxError};
use super::telemetry::Observed;
use crate::discovery::{Discovery, Service as MeshService};
use crate::protocol::{declared, Declared};
use crate::proxy::inbound::app_address;

/// The protocol spoken to the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 over a pooled connection.
    Http1,
    /// HTTP/2 (prior knowledge), multiplexed over one connection per endpoint.
    Http2,
}

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

/// Which side of the node a connection is on, and what it was addressed to.
#[derive(Clone, Copy, Debug)]
pub enum Direction {
    /// A pod's outgoing connection, to `original_dst` (a ClusterIP:port or any address).
    Outbound {
        /// What the app dialled.
        original_dst: SocketAddr,
    },
    /// A connection to a pod: `original_dst` is `pod_ip:port`.
    Inbound {
        /// What the client dialled.
        original_dst: SocketAddr,
        /// The pod's IP.
        pod_ip: IpAddr,
    },
}

/// Inserts the [`RouteTarget`] of each request.
#[derive(Clone)]
pub struct RouteLayer {
    discovery: Discovery,
    direction: Direction,
}

impl RouteLayer {
    /// Routes the requests of a connection going `direction`, with `discovery`'s current view.
    pub fn new(discovery: Discovery, direction: Direction) -> Self {
        Self {
            discovery,
            direction,
        }
    }
}

impl<S> Layer<S> for RouteLayer {
    type Service = Route<S>;
    fn layer(&self, inner: S) -> Route<S> {
        Route {
            inner,
            discovery: self.discovery.clone(),
            direction: self.direction,
        }
    }
}

/// See [`RouteLayer`].
#[derive(Clone)]
pub struct Route<S> {
    inner: S,
    discovery: Discovery,
    direction: Direction,
}

impl<S> Route<S> {
    /// The target of `request`.
    fn target(&self, request: &Request<Body>) -> Result<RouteTarget, BoxError> {
        let snapshot = self.discovery.snapshot();
        let (service, balancer): (_, Arc<dyn Balancer>) = match self.direction {
            Direction::Outbound { original_dst } => match snapshot.service(original_dst) {
                Some(service) => (Some(service.clone()), service),
                None => (None, Arc::new(Passthrough(original_dst))),
            },
            Direction::Inbound {
                original_dst,
                pod_ip,
            } => {
                let endpoint = SocketAddr::new(pod_ip, original_dst.port());
                let app = Passthrough(app_address(original_dst));
                (snapshot.service_of_endpoint(endpoint), Arc::new(app))
            }
        };
        let upstream = upstream_protocol(service.as_deref(), request.version());
        Ok(RouteTarget {
            service,
            balancer,
            upstream,
        })
    }
}

/// HTTP/2 to the upstream when the port is declared HTTP/2 or gRPC, or the client speaks it.
fn upstream_protocol(service: Option<&MeshService>, version: Version) -> UpstreamProtocol {
    let declared =
        service.and_then(|s| declared(s.app_protocol.as_deref(), s.port_name.as_deref()));
    match (declared, version) {
        (Some(Declared::Http2 | Declared::Grpc), _) | (_, Version::HTTP_2) => {
            UpstreamProtocol::Http2
        }
        _ => UpstreamProtocol::Http1,
    }
}

impl<S> Service<Request<Body>> for Route<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let target = match self.target(&request) {
            Ok(target) => target,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        if let Some(observed) = request.extensions().get::<Observed>() {
            observed.set_service(target.service.clone());
        }
        request.extensions_mut().insert(target);
        Box::pin(self.inner.clone().oneshot(request))
    }
}
