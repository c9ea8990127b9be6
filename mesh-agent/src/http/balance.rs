//! The balancer layer: picks the endpoint of each request among its route target's endpoints.
//! Policies implement [`Balancer`] (see [`super::lb`] for the cluster policies), and
//! passthrough to a fixed address.

use std::net::SocketAddr;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::{Body, BoxError};
use super::errors::{NoHealthyUpstream, NoRoute};
use super::lb::Pick;
use super::route::RouteTarget;
use super::telemetry::Observed;

/// A load-balancing policy: the endpoint for one request, `None` when there is none.
pub trait Balancer: Send + Sync {
    /// Picks the endpoint for `request` (a policy may hash its headers).
    fn pick(&self, request: &Request<Body>) -> Option<SocketAddr>;

    /// The pick with what it holds for the exchange (an in-flight count, a cookie to set).
    fn pick_for(&self, request: &Request<Body>) -> Option<Pick> {
        self.pick(request).map(Pick::at)
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

/// The endpoint chosen for a request, in its extensions, for the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint(pub SocketAddr);

/// Picks each request's [`Endpoint`].
#[derive(Clone, Debug, Default)]
pub struct BalanceLayer;

impl<S> Layer<S> for BalanceLayer {
    type Service = Balance<S>;
    fn layer(&self, inner: S) -> Balance<S> {
        Balance { inner }
    }
}

/// See [`BalanceLayer`].
#[derive(Clone, Debug)]
pub struct Balance<S> {
    inner: S,
}

impl<S> Balance<S> {
    fn endpoint(request: &Request<Body>) -> Result<Pick, BoxError> {
        let target = request.extensions().get::<RouteTarget>().ok_or(NoRoute)?;
        Ok(target.balancer.pick_for(request).ok_or(NoHealthyUpstream)?)
    }
}

impl<S> Service<Request<Body>> for Balance<S>
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
        let Pick {
            endpoint,
            in_flight,
            set_cookie,
        } = match Self::endpoint(&request) {
            Ok(pick) => pick,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        if let Some(observed) = request.extensions().get::<Observed>() {
            observed.set_endpoint(endpoint);
        }
        request.extensions_mut().insert(Endpoint(endpoint));
        let answer = self.inner.clone().oneshot(request);
        Box::pin(async move {
            let mut response = answer.await;
            // Counted in flight until the response (or failure) comes back.
            drop(in_flight);
            if let (Ok(response), Some(cookie)) = (response.as_mut(), set_cookie) {
                response
                    .headers_mut()
                    .append(hyper::header::SET_COOKIE, cookie);
            }
            response
        })
    }
}
