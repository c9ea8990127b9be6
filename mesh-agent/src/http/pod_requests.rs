//! Per-pod cap on HTTP requests in flight: at most `per_pod` requests from (outbound) or to
//! (inbound) any one pod are in the agent at once (the pod's `mesh.io/max-requests-in-flight`
//! annotation overrides the flag for it), so one pod's flood cannot hold every worker of the
//! node proxy. A request past the cap is answered 503 at once with flag `OM` (Envoy's overload
//! manager), counted in `mesh_pod_requests_refused_total`; the warning is throttled. A request
//! is in flight until its response head is back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

use super::body::Body;
use crate::errors::BoxError;
use crate::throttle::Throttle;

/// HTTP requests in flight from or to one pod, by default at most.
pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT_PER_POD: usize = 10_000;

/// A pod has as many requests in flight as it may.
#[derive(Debug, thiserror::Error)]
#[error("pod {pod} has {max} requests in flight, its cap")]
pub struct PodOverloaded {
    pub pod: Arc<str>,
    pub max: usize,
}

/// The cap and the requests it counts, per pod.
#[derive(Debug)]
pub struct RequestCaps {
    per_pod: AtomicUsize,
    in_flight: Mutex<HashMap<Arc<str>, usize>>,
    refused: Counter,
    warnings: Throttle,
}

impl Default for RequestCaps {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_REQUESTS_IN_FLIGHT_PER_POD)
    }
}

impl RequestCaps {
    /// At most `per_pod` requests in flight per pod; counter unregistered.
    pub fn new(per_pod: usize) -> Self {
        Self {
            per_pod: AtomicUsize::new(per_pod),
            in_flight: Mutex::default(),
            refused: Counter::default(),
            warnings: Throttle::default(),
        }
    }

    /// The same, its refusals counted in `registry`.
    pub fn register(self, registry: &mut Registry) -> Self {
        registry.register(
            "mesh_pod_requests_refused",
            "HTTP requests answered 503 (flag OM) because their pod had as many in flight as \
             its cap",
            self.refused.clone(),
        );
        self
    }

    /// Sets the cap of pods without their own (the agent's flag).
    pub fn set_per_pod(&self, max: usize) {
        self.per_pod.store(max, Ordering::Relaxed);
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.get()
    }

    /// One more request of `pod`, whose own cap is `own` (`None`: the flag's).
    pub fn admit(
        self: &Arc<Self>,
        pod: &Arc<str>,
        own: Option<usize>,
    ) -> Result<RequestPermit, PodOverloaded> {
        let max = own.unwrap_or_else(|| self.per_pod.load(Ordering::Relaxed));
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let count = in_flight.entry(pod.clone()).or_default();
        if *count >= max {
            drop(in_flight);
            self.refused.inc();
            if let Some(suppressed) = self.warnings.allow() {
                tracing::warn!(%pod, max, suppressed, "pod's requests in flight at their cap: answering 503");
            }
            return Err(PodOverloaded {
                pod: pod.clone(),
                max,
            });
        }
        *count += 1;
        Ok(RequestPermit {
            caps: self.clone(),
            pod: pod.clone(),
        })
    }

    fn release(&self, pod: &Arc<str>) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = in_flight.get_mut(pod) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(pod);
            }
        }
    }
}

/// One request's place under its pod's cap, given back when dropped.
#[derive(Debug)]
pub struct RequestPermit {
    caps: Arc<RequestCaps>,
    pod: Arc<str>,
}

impl Drop for RequestPermit {
    fn drop(&mut self) {
        self.caps.release(&self.pod);
    }
}

/// Caps the requests of the connection's own pod (`pod`, `namespace/name`; its annotation
/// `own`).
#[derive(Clone, Debug)]
pub struct PodRequestsLayer {
    pub caps: Arc<RequestCaps>,
    pub pod: Arc<str>,
    pub own: Option<usize>,
}

impl<S> Layer<S> for PodRequestsLayer {
    type Service = PodRequests<S>;
    fn layer(&self, inner: S) -> PodRequests<S> {
        PodRequests {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`PodRequestsLayer`].
#[derive(Clone, Debug)]
pub struct PodRequests<S> {
    inner: S,
    layer: PodRequestsLayer,
}

impl<S> Service<Request<Body>> for PodRequests<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let layer = &self.layer;
        let permit = match layer.caps.admit(&layer.pod, layer.own) {
            Ok(permit) => permit,
            Err(overloaded) => return Box::pin(async move { Err(overloaded.into()) }),
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            drop(permit);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_at_its_cap_is_refused_while_another_is_admitted_and_places_come_back() {
        let caps = Arc::new(RequestCaps::new(2));
        let (a, b): (Arc<str>, Arc<str>) = ("shop/a".into(), "shop/b".into());
        let first = caps.admit(&a, None).unwrap();
        let _second = caps.admit(&a, None).unwrap();
        let refused = caps.admit(&a, None).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "pod shop/a has 2 requests in flight, its cap"
        );
        assert!(caps.admit(&b, None).is_ok(), "another pod");
        assert!(
            caps.admit(&b, Some(1)).is_ok(),
            "b's permit above was dropped"
        );
        let _b = caps.admit(&b, Some(1)).unwrap();
        assert!(caps.admit(&b, Some(1)).is_err(), "b's own cap: 1");
        drop(first);
        assert!(caps.admit(&a, None).is_ok());
        assert_eq!(caps.refused(), 2);
    }
}
