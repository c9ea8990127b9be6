//! The outlier layer: sits on one endpoint's service and reports each try's outcome to the
//! destination's [`SharedDetector`]. Keeping ejected endpoints out is the balancer's part,
//! through [`SharedDetector::eligible`].

use std::net::SocketAddr;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use super::SharedDetector;
use crate::errors::BoxError;
use crate::resilience::outcome::Outcome;
use crate::resilience::BoxFuture;

/// Builds [`Outlier`] services for one endpoint of a destination.
#[derive(Clone, Debug)]
pub struct OutlierLayer {
    detector: SharedDetector,
    endpoint: SocketAddr,
}

impl OutlierLayer {
    /// Reports outcomes of tries to `endpoint` to `detector`.
    pub fn new(detector: SharedDetector, endpoint: SocketAddr) -> Self {
        Self { detector, endpoint }
    }
}

impl<S> Layer<S> for OutlierLayer {
    type Service = Outlier<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Outlier {
            inner,
            detector: self.detector.clone(),
            endpoint: self.endpoint,
        }
    }
}

/// The service [`OutlierLayer`] builds.
#[derive(Clone, Debug)]
pub struct Outlier<S> {
    inner: S,
    detector: SharedDetector,
    endpoint: SocketAddr,
}

impl<S, B, R> Service<Request<B>> for Outlier<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<R>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        let (detector, endpoint) = (self.detector.clone(), self.endpoint);
        Box::pin(async move {
            let result = response.await.map_err(Into::into);
            detector.observe(endpoint, &Outcome::of_result(&result));
            result
        })
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
