//! The outlier report layer: below the balancer and the circuit breaker, it reports each try's
//! outcome to the destination's [`SharedDetector`] (in the request's extensions) for the
//! [`Endpoint`] the try went to. Keeping ejected endpoints out is the balancer's part, through
//! [`SharedDetector::eligible`].

use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::SharedDetector;
use crate::errors::BoxError;
use crate::lb::Endpoint;
use crate::resilience::outcome::Outcome;
use crate::resilience::BoxFuture;

/// Builds [`OutlierReport`] services.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutlierReportLayer;

impl<S> Layer<S> for OutlierReportLayer {
    type Service = OutlierReport<S>;

    fn layer(&self, inner: S) -> OutlierReport<S> {
        OutlierReport { inner }
    }
}

/// See [`OutlierReportLayer`].
#[derive(Clone, Debug)]
pub struct OutlierReport<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for OutlierReport<S>
where
    S: Service<Request<B>, Response = Response<R>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<R>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let detector = request.extensions().get::<SharedDetector>().cloned();
        let endpoint = request.extensions().get::<Endpoint>().map(|e| e.0);
        let answer = self.inner.clone().oneshot(request);
        let (Some(detector), Some(endpoint)) = (detector, endpoint) else {
            return Box::pin(answer);
        };
        Box::pin(async move {
            let result = answer.await;
            detector.observe(endpoint, &Outcome::of_result(&result));
            result
        })
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
