//! The balancer layer: picks the endpoint of each request with its route target's
//! [`Balancer`](super::target::Balancer), kept off ejected endpoints and, for a retry, off those
//! already tried, then to the closest locality priority with room (`lb/locality.rs`: a retry
//! whose closer endpoints were all tried goes to the next).

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::target::RouteTarget;
use super::telemetry::Observed;
use crate::errors::BoxError;
use crate::errors::{NoHealthyUpstream, NoRoute};
use crate::lb::{pick_within, Endpoint, Pick};
use crate::resilience::compiled;
use crate::resilience::outlier::SharedDetector;
use crate::resilience::TriedEndpoints;

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
    /// The balancer's pick, kept off ejected endpoints; a retry takes one of the endpoints
    /// not yet tried at random, without asking the balancer: a retry that moved round robin's
    /// turn on would send the next request's first try back to the endpoint that just failed.
    fn endpoint(request: &Request<Body>) -> Result<Pick, BoxError> {
        let target = request.extensions().get::<RouteTarget>().ok_or(NoRoute)?;
        let restricted = allowed(request, target);
        if let Some((_, allowed)) = &restricted {
            if allowed.is_empty() {
                return Err(NoHealthyUpstream.into());
            }
            if is_retry(request) {
                return Ok(Pick::at(allowed[fastrand::usize(..allowed.len())]));
            }
        }
        let pick = || target.balancer.pick_for(request);
        let picked = match restricted {
            Some((all, allowed)) => pick_within(pick, &all, &allowed),
            None => pick(),
        };
        Ok(picked.ok_or(NoHealthyUpstream)?)
    }
}

/// Whether an earlier try of this request went to an endpoint already.
fn is_retry(request: &Request<Body>) -> bool {
    let tried = request.extensions().get::<TriedEndpoints>();
    tried.is_some_and(|t| !t.list().is_empty())
}

/// The cluster's endpoints and those a pick may land on (not ejected, not tried where others
/// remain, in the closest locality priority with room); `None` when nothing restricts the
/// balancer — also when, on a first try, its detector ejects none of them and no endpoint has
/// a locality: no lists are built then.
fn allowed(
    request: &Request<Body>,
    target: &RouteTarget,
) -> Option<(Arc<[SocketAddr]>, Vec<SocketAddr>)> {
    let cluster = target.balancer.cluster()?;
    let detector = request.extensions().get::<SharedDetector>();
    let tried = request.extensions().get::<TriedEndpoints>();
    let all = match detector {
        None if !is_retry(request) => return None,
        _ => &compiled::cluster_policies(cluster).endpoints,
    };
    // A detector over no endpoint known by IP restricts the pick to none: UH, as always.
    let unrestricted = cluster.localities.is_empty()
        && !all.is_empty()
        && detector.is_some_and(SharedDetector::ejects_none);
    if unrestricted && !is_retry(request) {
        return None;
    }
    let all = all.clone();
    let mut allowed = all.to_vec();
    if let Some(detector) = detector {
        allowed = detector.eligible(&allowed);
    }
    if let Some(tried) = tried {
        allowed = tried.untried(&allowed);
    }
    Some((all, target.balancer.closest(allowed)))
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
        if let Some(tried) = request.extensions().get::<TriedEndpoints>() {
            tried.record(endpoint);
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
