//! The destination side's request metrics, reported by the source (issue 20, L7 once per
//! request): innermost, each try whose response came over a tunnel stream the destination
//! agreed to carry at L4 ([`SourceReportsDestination`]: no agent parses the request there) is
//! recorded once more as `reporter="destination"` — the try's status as the app answered it,
//! both certificates' principals, the destination workload's Telemetry switch — as the
//! destination's own telemetry layer would have recorded it. Any other response passes.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::context::{Observed, PeerSecurity, Peers, TelemetryContext};
use super::metered::{headers_size, MeteredRequest};
use super::record::PendingRecord;
use super::{protocol_of, series};
use crate::errors::BoxError;
use crate::facts::Reporter;
use crate::http::body::{boxed, Body};
use crate::http::metrics::HttpMetrics;
use crate::http::pool::SourceReportsDestination;
use crate::lb::Endpoint;
use crate::observe::{RequestObservers, RequestWatch};
use crate::pipeline::ConfigState;
use crate::snapshot::Service as MeshService;

/// Reports the destination side of the tries the destination carried at L4.
#[derive(Clone)]
pub struct DestinationReportLayer {
    /// `None` on the destination's own side (it reports for itself).
    context: Option<Arc<TelemetryContext>>,
}

impl DestinationReportLayer {
    /// For a connection between `peers`: only the source side of a pod whose meshed
    /// destinations are reached through the tunnel can be answered so; others pass untouched.
    pub fn new(
        metrics: HttpMetrics,
        config: ConfigState,
        peers: &Peers,
        observers: RequestObservers,
    ) -> Self {
        let tunnelled = matches!(peers.security, PeerSecurity::MeshedThroughTunnel { .. });
        let context = (peers.reporter == Reporter::source && tunnelled).then(|| {
            let peers = Peers {
                reporter: Reporter::destination,
                destination: None,
                pod_ip: None,
                ..peers.clone()
            };
            Arc::new(TelemetryContext {
                metrics,
                config,
                peers,
                observers,
                series: series::SeriesCache::default(),
            })
        });
        Self { context }
    }
}

impl<S> Layer<S> for DestinationReportLayer {
    type Service = DestinationReport<S>;
    fn layer(&self, inner: S) -> DestinationReport<S> {
        DestinationReport {
            inner,
            context: self.context.clone(),
        }
    }
}

/// See [`DestinationReportLayer`].
#[derive(Clone)]
pub struct DestinationReport<S> {
    inner: S,
    context: Option<Arc<TelemetryContext>>,
}

impl<S> Service<Request<Body>> for DestinationReport<S>
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

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(context) = self.context.clone() else {
            return Box::pin(self.inner.clone().oneshot(request));
        };
        let (service, endpoint) = tried(&request);
        let protocol = protocol_of(request.headers());
        let request_bytes = Arc::new(AtomicU64::new(headers_size(request.headers())));
        let request = request.map(|body| boxed(MeteredRequest::new(body, request_bytes.clone())));
        let answer = self.inner.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await?;
            if response
                .extensions()
                .get::<SourceReportsDestination>()
                .is_none()
            {
                return Ok(response);
            }
            let snapshot = context.config.snapshot();
            let workload = endpoint.and_then(|e| snapshot.workload(e.ip()));
            let metrics_on = workload.is_some_and(|w| w.telemetry.metrics(Reporter::destination));
            let observed = Observed::default();
            observed.set_service(service);
            if let Some(endpoint) = endpoint {
                observed.set_endpoint(endpoint);
            }
            let watch = RequestWatch::none();
            let pending = PendingRecord::new(
                context,
                observed,
                protocol,
                request_bytes,
                watch,
                metrics_on,
            );
            Ok(pending.on_response(response))
        })
    }
}

/// This try's destination: the route's Service (the request's [`Observed`]) and the endpoint
/// the balancer picked for this try.
fn tried(request: &Request<Body>) -> (Option<Arc<MeshService>>, Option<SocketAddr>) {
    let observed = request.extensions().get::<Observed>();
    let service = observed.and_then(|o| o.0.lock().expect("not poisoned").service.clone());
    let endpoint = request.extensions().get::<Endpoint>().map(|e| e.0);
    (service, endpoint)
}
