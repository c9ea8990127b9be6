//! Telemetry, the outermost layer: each request is counted once, when its response body ends
//! (or is dropped), with the status, flags and gRPC status it ended with. Inner layers report
//! the destination they chose through the [`Observed`] slot in the request's extensions.

use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::{boxed, Body};
use super::metrics::HttpMetrics;
use crate::observe::RequestObservers;
use crate::pipeline::ConfigState;
use metered::{headers_size, MeteredRequest};

mod context;
mod destination;
mod metered;
mod record;
mod series;

use context::TelemetryContext;
pub use context::{Observed, PeerSecurity, Peers};
pub use destination::DestinationReportLayer;
pub use record::PendingRecord;

/// Counts every request in Istio's HTTP metrics.
#[derive(Clone)]
pub struct TelemetryLayer {
    context: Arc<TelemetryContext>,
}

impl TelemetryLayer {
    /// Telemetry into `metrics` (and `observers`: traces, access logs) for requests between
    /// `peers`.
    pub fn new(
        metrics: HttpMetrics,
        config: ConfigState,
        peers: Peers,
        observers: RequestObservers,
    ) -> Self {
        let context = TelemetryContext {
            metrics,
            config,
            peers,
            observers,
            series: series::SeriesCache::default(),
        };
        Self {
            context: Arc::new(context),
        }
    }
}

impl<S> Layer<S> for TelemetryLayer {
    type Service = Telemetry<S>;
    fn layer(&self, inner: S) -> Telemetry<S> {
        Telemetry {
            inner,
            context: self.context.clone(),
        }
    }
}

/// See [`TelemetryLayer`].
#[derive(Clone)]
pub struct Telemetry<S> {
    inner: S,
    context: Arc<TelemetryContext>,
}

impl<S> Service<Request<Body>> for Telemetry<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let observed = Observed::default();
        request.extensions_mut().insert(observed.clone());
        let policy = self.context.local_policy();
        // Before anything reads the headers: sets x-request-id and the trace context.
        let watch =
            self.context
                .observers
                .start(&mut request, self.context.peers.reporter, &policy);
        let request_bytes = Arc::new(AtomicU64::new(headers_size(request.headers())));
        let request = request.map(|body| boxed(MeteredRequest::new(body, request_bytes.clone())));
        let pending = PendingRecord::new(
            self.context.clone(),
            observed,
            protocol_of(request.headers()),
            request_bytes,
            watch,
            policy.metrics(self.context.peers.reporter),
        );
        let response = self.inner.clone().oneshot(request);
        Box::pin(response.map(|Ok(response)| Ok(pending.on_response(response))))
    }
}

fn protocol_of(headers: &HeaderMap) -> &'static str {
    let grpc = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        "grpc"
    } else {
        "http"
    }
}
