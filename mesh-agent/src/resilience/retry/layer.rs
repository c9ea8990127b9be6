//! The retry layer: sends a request again — to an endpoint not tried yet where the balancer has
//! one — while the route's [`RetryPolicy`] calls its outcome retriable and attempts, the
//! destination's [`RetryBudget`] and the body bound allow. Each try gets `perTryTimeout`; the
//! first streams the body as it arrives (a copy is kept for retries, see [`ReplayBuffer`]).

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower::{Layer, Service, ServiceExt};

use super::metrics::{RetryMetrics, SkipReason};
use super::replay::{ReplayBuffer, RetryBody, DEFAULT_BUFFER_LIMIT};
use super::{RetryBudget, RetryPolicy, TriedEndpoints};
use crate::errors::BoxError;
use crate::resilience::breaker::Overflow;
use crate::resilience::outcome::Outcome;
use crate::resilience::timeout::{Timeout, TimeoutScope};
use crate::resilience::BoxFuture;

/// Every try failed and the last one failed without an answer (flag `URX`).
#[derive(Debug, thiserror::Error)]
#[error("retries exhausted after {tries} tries")]
pub struct RetriesExhausted {
    /// Tries made, the first included.
    pub tries: u32,
    /// Why the last try failed.
    #[source]
    pub last: BoxError,
}

impl RetriesExhausted {
    /// Envoy's response flag for an exhausted retry limit.
    pub const RESPONSE_FLAG: &'static str = "URX";
}

/// Response extension: retries ran out and this is the last try's (retriable) answer, passed
/// on as Envoy does; telemetry reports flag `URX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryLimitReached {
    /// Tries made, the first included.
    pub tries: u32,
}

/// Builds [`Retry`] services. A request's own [`RetryPolicy`] and [`RetryBudget`] extensions
/// (set by the route layer) override the layer's.
#[derive(Clone, Debug)]
pub struct RetryLayer {
    config: Arc<Config>,
}

#[derive(Debug)]
struct Config {
    default: RetryPolicy,
    budget: Option<RetryBudget>,
    buffer_limit: usize,
    jitter: Mutex<fastrand::Rng>,
    metrics: RetryMetrics,
}

impl RetryLayer {
    /// Retries by `default`, uncapped, keeping bodies up to [`DEFAULT_BUFFER_LIMIT`].
    pub fn new(default: RetryPolicy, metrics: RetryMetrics) -> Self {
        let jitter = Mutex::new(fastrand::Rng::new());
        let config = Config {
            default,
            budget: None,
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            jitter,
            metrics,
        };
        Self {
            config: Arc::new(config),
        }
    }

    /// Caps concurrent retries with `budget` for requests that carry none.
    pub fn with_budget(self, budget: RetryBudget) -> Self {
        self.map(|c| c.budget = Some(budget))
    }

    /// Keeps up to `limit` bytes of request bodies for retries.
    pub fn with_buffer_limit(self, limit: usize) -> Self {
        self.map(|c| c.buffer_limit = limit)
    }

    /// Draws backoff jitter from a generator seeded with `seed` (reproducible tests).
    pub fn with_jitter_seed(self, seed: u64) -> Self {
        self.map(|c| c.jitter = Mutex::new(fastrand::Rng::with_seed(seed)))
    }

    fn map(self, edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = Arc::try_unwrap(self.config).expect("configure the layer before use");
        edit(&mut config);
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`RetryLayer`] builds.
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, B, R> Service<Request<B>> for Retry<S>
where
    S: Service<Request<RetryBody<B>>, Response = Response<R>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<R>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(send(inner, self.config.clone(), request))
    }
}

async fn send<S, B, R>(
    mut inner: S,
    config: Arc<Config>,
    request: Request<B>,
) -> Result<Response<R>, BoxError>
where
    S: Service<Request<RetryBody<B>>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let policy = request
        .extensions()
        .get::<RetryPolicy>()
        .copied()
        .unwrap_or(config.default);
    let (mut parts, body) = request.into_parts();
    if policy.attempts == 0 {
        let once = Request::from_parts(parts, RetryBody::Passthrough { body });
        return try_once(&mut inner, once, policy.per_try_timeout).await;
    }
    let replay = ReplayBuffer::new(body, config.buffer_limit);
    let budget = parts
        .extensions
        .get::<RetryBudget>()
        .cloned()
        .or_else(|| config.budget.clone());
    parts.extensions.get_or_insert_default::<TriedEndpoints>();
    let mut body = replay.first_try();
    let mut tries = 1;
    let mut permit = None;
    loop {
        let attempt = Request::from_parts(parts.clone(), body);
        let result = try_once(&mut inner, attempt, policy.per_try_timeout).await;
        drop(permit.take());
        // As Envoy: a circuit breaker's overflow is answered at once, never retried.
        let overflowed = matches!(&result, Err(e) if e.is::<Overflow>());
        if overflowed || !policy.should_retry(&Outcome::of_result(&result)) {
            return result;
        }
        // As Envoy: once the body passed the buffer bound, the retry policy no longer applies.
        if !replay.replayable() {
            config.metrics.skipped(SkipReason::body_too_large);
            return result;
        }
        if tries > policy.attempts {
            config.metrics.exhausted();
            return exhausted(result, tries);
        }
        permit = match budget.as_ref().map(RetryBudget::try_acquire) {
            Some(None) => {
                config.metrics.skipped(SkipReason::budget_exhausted);
                return result;
            }
            granted => granted.flatten(),
        };
        // The try in flight may still be reading the body on its connection.
        let Some(next) = replay.retry() else {
            config.metrics.skipped(SkipReason::body_too_large);
            return result;
        };
        body = next;
        drop(result);
        tokio::time::sleep(policy.backoff.delay(tries, config.draw())).await;
        config.metrics.retried();
        tries += 1;
    }
}

async fn try_once<S, Q, R>(
    inner: &mut S,
    request: Q,
    per_try: Option<Duration>,
) -> Result<R, BoxError>
where
    S: Service<Q, Response = R>,
    S::Error: Into<BoxError>,
{
    let response = inner.ready().await.map_err(Into::into)?.call(request);
    let Some(after) = per_try else {
        return response.await.map_err(Into::into);
    };
    match tokio::time::timeout(after, response).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(Timeout {
            scope: TimeoutScope::PerTry,
            after,
        }
        .into()),
    }
}

fn exhausted<R>(
    result: Result<Response<R>, BoxError>,
    tries: u32,
) -> Result<Response<R>, BoxError> {
    match result {
        Ok(mut response) => {
            response
                .extensions_mut()
                .insert(RetryLimitReached { tries });
            Ok(response)
        }
        Err(last) => Err(RetriesExhausted { tries, last }.into()),
    }
}

impl Config {
    fn draw(&self) -> f64 {
        self.jitter.lock().unwrap_or_else(|p| p.into_inner()).f64()
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "layer_stream_tests.rs"]
mod stream_tests;
