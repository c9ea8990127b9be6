//! The route `timeout`: one deadline over the whole request, retries and backoff included
//! (answered 504 with flag `UT`). The per-try deadline (`perTryTimeout`) belongs to the retry
//! layer, which sits inside this one; both fail with [`Timeout`].

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use tower::{Layer, Service};

use super::BoxFuture;
use crate::errors::BoxError;

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutScope {
    /// The route's overall `timeout`.
    Route,
    /// One try's `perTryTimeout`.
    PerTry,
}

/// The upstream did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("{scope} timeout after {after:?}")]
pub struct Timeout {
    /// Which deadline passed.
    pub scope: TimeoutScope,
    /// The configured deadline.
    pub after: Duration,
}

impl Timeout {
    /// Envoy's response flag for an upstream request timeout.
    pub const RESPONSE_FLAG: &'static str = "UT";
}

impl fmt::Display for TimeoutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutScope::Route => "route",
            TimeoutScope::PerTry => "per-try",
        })
    }
}

/// Request extension set by the route layer: this route's `timeout`, overriding the layer's
/// default. Absent (and no default): no deadline, as Istio does by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteDeadline(pub Duration);

/// Puts the route deadline around everything below it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteTimeoutLayer {
    default: Option<Duration>,
}

impl RouteTimeoutLayer {
    /// A layer applying `default` to requests that carry no [`RouteDeadline`].
    pub fn new(default: Option<Duration>) -> Self {
        Self { default }
    }
}

impl<S> Layer<S> for RouteTimeoutLayer {
    type Service = RouteTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteTimeout {
            inner,
            default: self.default,
        }
    }
}

/// The service [`RouteTimeoutLayer`] builds.
#[derive(Clone, Debug)]
pub struct RouteTimeout<S> {
    inner: S,
    default: Option<Duration>,
}

impl<S, B> Service<Request<B>> for RouteTimeout<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let deadline = request.extensions().get::<RouteDeadline>().map(|d| d.0);
        let response = self.inner.call(request);
        let Some(after) = deadline.or(self.default) else {
            return Box::pin(async move { response.await.map_err(Into::into) });
        };
        Box::pin(async move {
            match tokio::time::timeout(after, response).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Timeout {
                    scope: TimeoutScope::Route,
                    after,
                }
                .into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{service_fn, ServiceExt};

    fn slow(
        delay: Duration,
    ) -> impl Service<Request<()>, Response = u16, Error = BoxError, Future: Send> + Clone {
        service_fn(move |_req: Request<()>| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, BoxError>(200)
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_route_deadline_cuts_a_slow_backend() {
        let service = RouteTimeoutLayer::new(Some(Duration::from_secs(1)))
            .layer(slow(Duration::from_secs(5)));
        let started = tokio::time::Instant::now();
        let error = service.oneshot(Request::new(())).await.unwrap_err();
        let timeout = error.downcast_ref::<Timeout>().expect("a Timeout");
        assert_eq!(timeout.scope, TimeoutScope::Route);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_route_extension_overrides_the_default() {
        let service = RouteTimeoutLayer::new(Some(Duration::from_secs(1)))
            .layer(slow(Duration::from_secs(2)));
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(RouteDeadline(Duration::from_secs(3)));
        assert_eq!(service.oneshot(request).await.unwrap(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_waits_as_long_as_it_takes() {
        let service = RouteTimeoutLayer::new(None).layer(slow(Duration::from_secs(3600)));
        assert_eq!(service.oneshot(Request::new(())).await.unwrap(), 200);
    }
}
