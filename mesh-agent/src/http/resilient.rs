//! The resilience slot of the stack: the destination layer, below the mirror, puts a request's
//! route `timeout`, retry policy and its destination's pool accounting and outlier detector in
//! its extensions, where the timeout, retry, balancer, circuit-breaker and outlier layers below
//! read them, and its TLS origination, which the pool reads. A destination's (host + subset)
//! pool accounting and outlier detector are kept per source pod, as its sidecar would keep them.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use prometheus_client::registry::Registry;
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::pool::Originations;
use super::target::RouteTarget;
use crate::errors::BoxError;
use crate::resilience::breaker::{DestinationPools, UpstreamProtocol};
use crate::resilience::compiled;
use crate::resilience::from_snapshot as compile;
use crate::resilience::outlier::{OutlierMetrics, SharedDetector, SourceDetectors};
use crate::resilience::retry::RetryMetrics;
use crate::resilience::timeout::RouteDeadline;
use crate::resilience::RetryPolicy;
use crate::routing::MatchedRule;
use crate::snapshot::{Cluster, Snapshot};

/// Every destination's live resilience state on this node. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Resilience {
    pools: DestinationPools,
    detectors: SourceDetectors,
    /// `mesh_outlier_*`.
    pub outlier_metrics: OutlierMetrics,
    /// `mesh_retries_*`.
    pub retry_metrics: RetryMetrics,
    /// Each destination's TLS origination (DestinationRule `tls`).
    originations: Originations,
}

impl Resilience {
    /// State whose metrics are registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            outlier_metrics: OutlierMetrics::register(registry),
            retry_metrics: RetryMetrics::register(registry),
            ..Self::default()
        }
    }

    /// The outlier detector of `cluster` for the requests of `source` (`namespace/pod`) when
    /// it sets `outlierDetection`, following its endpoints; a new one when the policy changed.
    pub fn detector(&self, cluster: &Cluster, source: &Arc<str>) -> Option<SharedDetector> {
        let policies = compiled::cluster_policies(cluster);
        let policy = policies.outlier?;
        let (name, endpoints) = (&policies.name, &policies.endpoints);
        let metrics = &self.outlier_metrics;
        let detectors = &self.detectors;
        Some(detectors.detector(source, name, policy, endpoints, metrics))
    }

    /// The accounting of `cluster`'s `connectionPool` for the opaque TCP connections of
    /// `source` (`namespace/pod`), when it sets one.
    pub fn tcp_pool(
        &self,
        cluster: &Cluster,
        source: &Arc<str>,
    ) -> Option<crate::resilience::DestinationPool> {
        let policies = compiled::cluster_policies(cluster);
        let policy = policies.pool.as_ref()?;
        Some(
            self.pools
                .connections(source, &policies.destination, policy),
        )
    }

    /// The outlier state of every destination with outlier detection: cluster name, source
    /// pod, detector; by cluster then source.
    pub fn detectors(&self) -> Vec<(String, Arc<str>, SharedDetector)> {
        self.detectors.all()
    }

    /// Puts the request's resilience context in its extensions, its pool accounting that of
    /// `source`, its origination that of `snapshot` (of `generation`).
    fn prepare(
        &self,
        request: &mut Request<Body>,
        snapshot: &Snapshot,
        generation: u64,
        source: &Arc<str>,
    ) {
        let target = request.extensions().get::<RouteTarget>();
        let cluster = target.and_then(|t| t.balancer.cluster().cloned());
        let upstream = target.map_or(UpstreamProtocol::Http1, |t| t.upstream);
        let matched = request.extensions().get::<MatchedRule>();
        let deadline = matched.and_then(|m| compile::route_deadline(m.rule()));
        let retry = compiled::retry_policy(snapshot, matched.map(|m| (m.table(), m.index())));
        let Some(cluster) = cluster else {
            request.extensions_mut().insert(RetryPolicy::disabled());
            return;
        };
        let extensions = request.extensions_mut();
        extensions.insert(retry);
        if let Some(deadline) = deadline {
            extensions.insert(RouteDeadline(deadline));
        }
        let policies = compiled::cluster_policies(&cluster);
        if let Some(policy) = &policies.pool {
            let destination = &policies.destination;
            let pool = self.pools.pool(source, destination, policy, upstream);
            extensions.insert(pool.retry_budget());
            extensions.insert(pool);
        }
        if let Some(detector) = self.detector(&cluster, source) {
            extensions.insert(detector);
        }
        if let Some(origination) = self.originations.get(&cluster, snapshot, generation) {
            extensions.insert(origination);
        }
    }
}

/// Puts each request's resilience context in its extensions (see the module).
#[derive(Clone)]
pub struct DestinationLayer {
    resilience: Resilience,
    config: crate::pipeline::ConfigState,
    source: Arc<str>,
}

impl DestinationLayer {
    /// Reads `resilience`, and the mesh default retry policy from `config`'s snapshot.
    pub fn new(resilience: Resilience, config: crate::pipeline::ConfigState) -> Self {
        let source = Arc::from("");
        Self {
            resilience,
            config,
            source,
        }
    }

    /// The same, for the requests of `source` (`namespace/pod`): its own pool accounting.
    pub fn for_source(self, source: Arc<str>) -> Self {
        Self { source, ..self }
    }
}

impl<S> Layer<S> for DestinationLayer {
    type Service = DestinationService<S>;
    fn layer(&self, inner: S) -> DestinationService<S> {
        DestinationService {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`DestinationLayer`].
#[derive(Clone)]
pub struct DestinationService<S> {
    inner: S,
    layer: DestinationLayer,
}

impl<S> Service<Request<Body>> for DestinationService<S>
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
        let generation = self.layer.config.generation();
        let snapshot = self.layer.config.snapshot();
        let source = &self.layer.source;
        self.layer
            .resilience
            .prepare(&mut request, &snapshot, generation, source);
        Box::pin(self.inner.clone().oneshot(request))
    }
}
