//! The circuit-breaker layer: admits each request through its destination's
//! [`DestinationPool`] before it goes on, fails it at once with [`Overflow`](super::Overflow)
//! when a limit is reached, and holds the request's place until its response body ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::limits::{DestinationPool, PoolPermit};
use crate::errors::BoxError;
use crate::resilience::BoxFuture;

/// Builds [`CircuitBreaker`] services for one destination. A request carrying its own
/// [`DestinationPool`] extension is accounted there instead.
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer {
    pool: DestinationPool,
}

impl CircuitBreakerLayer {
    /// A layer accounting requests in `pool`.
    pub fn new(pool: DestinationPool) -> Self {
        Self { pool }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker {
            inner,
            pool: self.pool.clone(),
        }
    }
}

/// The service [`CircuitBreakerLayer`] builds.
#[derive(Clone, Debug)]
pub struct CircuitBreaker<S> {
    inner: S,
    pool: DestinationPool,
}

impl<S, B, R> Service<Request<B>> for CircuitBreaker<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<PermitBody<R>>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let pool = request
            .extensions()
            .get::<DestinationPool>()
            .cloned()
            .unwrap_or_else(|| self.pool.clone());
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let permit = pool.admit().await?;
            let response = ready.call(request).await.map_err(Into::into)?;
            Ok(response.map(|body| PermitBody {
                body,
                permit: Some(permit),
            }))
        })
    }
}

pin_project! {
    /// A response body that holds its request's place in the pool until it ends or is dropped.
    #[derive(Debug)]
    pub struct PermitBody<B> {
        #[pin]
        body: B,
        permit: Option<PoolPermit>,
    }
}

impl<B: Body> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.body.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.permit.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
