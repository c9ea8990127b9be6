//! Mirroring (a rule's `mirror` / `mirrors` with `mirrorPercentage`): a copy of the request,
//! its authority suffixed `-shadow`, goes to each mirror destination drawn for it, fire and
//! forget — the primary's answer is the only one the client sees, and the shadow can neither
//! delay nor fail it. The body is buffered up to a bound to be copied; past it the mirror is
//! skipped and counted (`mesh_mirror_skipped_total`); past the node's bound of shadows in
//! flight ([`super::shadow`]) too (`mesh_mirror_overflow_total`).
//!
//! The route layer resolves each mirror destination to the same target type it gives primary
//! requests and puts them in the request as [`Shadows`]; this layer swaps that target into the
//! copy and sends it through the same stack below.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::header::{HeaderValue, HOST};
use hyper::http::request::Parts;
use hyper::http::uri::Authority;
use hyper::{Request, Response, Uri};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tower::{Layer, Service, ServiceExt};

use super::body::{boxed, Body};
use super::shadow::{send_shadow, ShadowSlots};
pub use super::shadow::{DEFAULT_MAX_SHADOWS, SHADOW_DEADLINE};
use crate::chance::Chance;
use crate::errors::BoxError;
use crate::resilience::retry::body::{buffer, Buffered, Buffering};

/// The largest request body copied to mirrors.
pub const DEFAULT_MIRROR_BODY_LIMIT: usize = 64 * 1024;

/// One mirror of a request: where the copy goes (`target`, the route layer's target type) and
/// the share (0–100) of requests mirrored.
#[derive(Clone, Debug)]
pub struct Shadow<T> {
    pub target: T,
    pub percentage: f64,
}

/// A request's mirrors, in its extensions.
#[derive(Clone, Debug)]
pub struct Shadows<T>(pub Vec<Shadow<T>>);

/// The mirrors a request is copied to this time (one draw per mirror).
pub fn drawn<'s, T>(shadows: &'s [Shadow<T>], chance: &Chance) -> Vec<&'s T> {
    let hit = |s: &&Shadow<T>| chance.hits(s.percentage);
    shadows.iter().filter(hit).map(|s| &s.target).collect()
}

/// The shadow's authority: `-shadow` after the host, before any port (as Envoy does).
pub fn shadow_authority(authority: &str) -> String {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => format!("{host}-shadow:{port}"),
        _ => format!("{authority}-shadow"),
    }
}

/// Mirror counters. `Default` gives unregistered counters (for tests).
#[derive(Clone, Debug, Default)]
pub struct MirrorMetrics {
    sent: Counter,
    skipped: Counter,
    overflow: Counter,
    /// The node's shadows in flight.
    pub slots: ShadowSlots,
}

impl MirrorMetrics {
    /// Registers `mesh_mirror_requests_total` and `mesh_mirror_skipped_total`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let sent = metrics.sent.clone();
        registry.register(
            "mesh_mirror_requests",
            "Shadow requests sent to mirrors",
            sent,
        );
        let skipped = metrics.skipped.clone();
        registry.register(
            "mesh_mirror_skipped",
            "Mirrors skipped because the request body passed the buffer bound",
            skipped,
        );
        registry.register(
            "mesh_mirror_overflow",
            "Mirrors dropped because the node's shadow requests in flight were at their bound",
            metrics.overflow.clone(),
        );
        metrics
    }

    /// Mirrors dropped at the bound of shadows in flight.
    pub fn overflow(&self) -> u64 {
        self.overflow.get()
    }

    /// Shadow requests sent.
    pub fn sent(&self) -> u64 {
        self.sent.get()
    }

    /// Mirrors skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped.get()
    }
}

/// Copies requests to their [`Shadows`] of target type `T`.
#[derive(Clone, Debug)]
pub struct MirrorLayer<T> {
    chance: Chance,
    metrics: MirrorMetrics,
    body_limit: usize,
    _target: std::marker::PhantomData<fn() -> T>,
}

impl<T> MirrorLayer<T> {
    /// Mirrors drawn from `chance`, counted in `metrics`, bodies copied up to `body_limit`.
    pub fn new(chance: Chance, metrics: MirrorMetrics, body_limit: usize) -> Self {
        Self {
            chance,
            metrics,
            body_limit,
            _target: std::marker::PhantomData,
        }
    }
}

impl<S, T> Layer<S> for MirrorLayer<T> {
    type Service = Mirror<S, T>;
    fn layer(&self, inner: S) -> Mirror<S, T> {
        Mirror {
            inner,
            chance: self.chance.clone(),
            metrics: self.metrics.clone(),
            body_limit: self.body_limit,
            _target: std::marker::PhantomData,
        }
    }
}

/// See [`MirrorLayer`].
#[derive(Clone, Debug)]
pub struct Mirror<S, T> {
    inner: S,
    chance: Chance,
    metrics: MirrorMetrics,
    body_limit: usize,
    _target: std::marker::PhantomData<fn() -> T>,
}

impl<S, T> Service<Request<Body>> for Mirror<S, T>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    T: Clone + Send + Sync + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let shadows = request.extensions().get::<Shadows<T>>();
        let targets: Vec<T> = shadows
            .map(|s| drawn(&s.0, &self.chance).into_iter().cloned().collect())
            .unwrap_or_default();
        let inner = self.inner.clone();
        if targets.is_empty() {
            return Box::pin(inner.oneshot(request));
        }
        let (metrics, limit) = (self.metrics.clone(), self.body_limit);
        Box::pin(mirror(inner, request, targets, metrics, limit))
    }
}

async fn mirror<S, T>(
    inner: S,
    request: Request<Body>,
    targets: Vec<T>,
    metrics: MirrorMetrics,
    limit: usize,
) -> Result<Response<Body>, BoxError>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    T: Clone + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    if body_size(&parts.headers).is_some_and(|size| size > limit as u64) {
        metrics.skipped.inc_by(targets.len() as u64);
        return inner.oneshot(Request::from_parts(parts, body)).await;
    }
    let whole = match buffer(body, limit).await? {
        Buffering::Complete(whole) => whole,
        Buffering::TooLarge(rest) => {
            metrics.skipped.inc_by(targets.len() as u64);
            return inner.oneshot(Request::from_parts(parts, boxed(rest))).await;
        }
    };
    for target in targets {
        let Some(slot) = metrics.slots.take() else {
            metrics.overflow.inc();
            continue;
        };
        let shadow = shadow_request(&parts, &whole, target);
        metrics.sent.inc();
        tokio::spawn(send_shadow(inner.clone(), shadow, slot));
    }
    inner
        .oneshot(Request::from_parts(parts, boxed(whole.replay::<Body>())))
        .await
}

fn body_size(headers: &hyper::HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The copy of a request for one mirror: same method, path, headers and body; only the
/// mirror's target in its extensions; its authority suffixed `-shadow`.
fn shadow_request<T: Clone + Send + Sync + 'static>(
    parts: &Parts,
    body: &Buffered,
    target: T,
) -> Request<Body> {
    let mut shadow = Request::new(boxed(body.replay::<Body>()));
    *shadow.method_mut() = parts.method.clone();
    *shadow.version_mut() = parts.version;
    *shadow.headers_mut() = parts.headers.clone();
    *shadow.uri_mut() = parts.uri.clone();
    shadow.extensions_mut().insert(target);
    let authority = parts.uri.authority().map(|a| a.to_string());
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
    if let Some(authority) = authority.as_deref().or(host) {
        set_authority(&mut shadow, &shadow_authority(authority));
    }
    shadow
}

fn set_authority(request: &mut Request<Body>, authority: &str) {
    if let Ok(value) = HeaderValue::from_str(authority) {
        request.headers_mut().insert(HOST, value);
    }
    if request.uri().authority().is_some() {
        let mut parts = request.uri().clone().into_parts();
        parts.authority = authority.parse::<Authority>().ok();
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
}

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
