//! Fault injection (a rule's `fault`): for a share of requests, a fixed delay before the
//! request goes on (flag `DI`), and/or an abort answered locally with an HTTP status or, for
//! `grpcStatus`, a gRPC trailers-only answer (flag `FI`). The decision, [`FaultPolicy::decide`],
//! is a plain function of the rule and one draw per fault; the layer only applies it.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use crate::chance::Chance;
use crate::errors::BoxError;
use crate::errors::{DelayInjected, FaultAborted, GrpcFaultAborted, ResponseFlag, ResponseFlags};
use crate::resources::{Fault, GRPC_STATUS_NAMES};
use crate::routing::MatchedRule;

/// How an abort answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortWith {
    /// This HTTP status.
    Http(StatusCode),
    /// HTTP 200 with this `grpc-status`, trailers-only.
    Grpc(u32),
}

/// A rule's fault, compiled: what to inject and to which share (0–100) of requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPolicy {
    pub delay: Option<(Duration, f64)>,
    pub abort: Option<(AbortWith, f64)>,
}

/// What one request gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub delay: Option<Duration>,
    pub abort: Option<AbortWith>,
}

impl FaultPolicy {
    /// From a rule's `fault` (the snapshot already turned `percent` into `percentage`; none
    /// means every request).
    pub fn from_fault(fault: &Fault) -> Self {
        let share = |p: &Option<crate::resources::Percent>| p.as_ref().map_or(100.0, |p| p.value);
        let delay = fault.delay.as_ref().and_then(|d| {
            let fixed = d.fixed_delay.as_ref().or(d.exponential_delay.as_ref())?;
            Some((fixed.value, share(&d.percentage)))
        });
        let abort = fault.abort.as_ref().and_then(|a| {
            let with = match (&a.grpc_status, a.http_status) {
                (Some(grpc), _) => AbortWith::Grpc(grpc_code(grpc)?),
                (None, Some(status)) => AbortWith::Http(StatusCode::from_u16(status).ok()?),
                (None, None) => return None,
            };
            Some((with, share(&a.percentage)))
        });
        Self { delay, abort }
    }

    /// What a request gets, one draw per fault.
    pub fn decide(&self, chance: &Chance) -> Injection {
        let delay = self.delay.filter(|(_, share)| chance.hits(*share));
        let abort = self.abort.filter(|(_, share)| chance.hits(*share));
        Injection {
            delay: delay.map(|(d, _)| d),
            abort: abort.map(|(a, _)| a),
        }
    }
}

/// A gRPC status by name (`UNAVAILABLE`) or number (`14`).
pub fn grpc_code(text: &str) -> Option<u32> {
    let by_name = GRPC_STATUS_NAMES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(text));
    by_name
        .map(|n| n as u32)
        .or_else(|| text.parse().ok().filter(|n| *n < 17))
}

/// Injects the faults of each request's [`MatchedRule`].
#[derive(Clone, Debug, Default)]
pub struct FaultLayer {
    chance: Chance,
}

impl FaultLayer {
    /// Faults drawn from `chance`.
    pub fn new(chance: Chance) -> Self {
        Self { chance }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultInjection<S>;
    fn layer(&self, inner: S) -> FaultInjection<S> {
        FaultInjection {
            inner,
            chance: self.chance.clone(),
        }
    }
}

/// See [`FaultLayer`].
#[derive(Clone, Debug)]
pub struct FaultInjection<S> {
    inner: S,
    chance: Chance,
}

impl<S> Service<Request<Body>> for FaultInjection<S>
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
        let matched = request.extensions().get::<MatchedRule>();
        let fault = matched.and_then(|m| m.rule().fault.as_ref());
        let injection = fault.map_or_else(Injection::default, |f| {
            FaultPolicy::from_fault(f).decide(&self.chance)
        });
        let inner = self.inner.clone();
        Box::pin(inject(injection, inner, request))
    }
}

async fn inject<S>(
    injection: Injection,
    inner: S,
    request: Request<Body>,
) -> Result<Response<Body>, BoxError>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError>,
{
    if let Some(delay) = injection.delay {
        tokio::time::sleep(delay).await;
    }
    let answer = match injection.abort {
        Some(AbortWith::Http(status)) => Err(FaultAborted { status }.into()),
        Some(AbortWith::Grpc(code)) => Err(GrpcFaultAborted { code }.into()),
        None => inner.oneshot(request).await,
    };
    match (injection.delay, answer) {
        (None, answer) => answer,
        (Some(_), Ok(response)) => Ok(flagged_delayed(response)),
        (Some(_), Err(error)) => Err(DelayInjected(error).into()),
    }
}

fn flagged_delayed(mut response: Response<Body>) -> Response<Body> {
    let flags = response.extensions().get::<ResponseFlags>().copied();
    let flags = flags.unwrap_or_default().with(ResponseFlag::DelayInjected);
    response.extensions_mut().insert(flags);
    response
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod tests;
