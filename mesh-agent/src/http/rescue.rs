//! Error to response: the ONE place that turns a failed request into a status code and
//! response flags (Envoy's local replies). The flags travel in the response's extensions.

use std::convert::Infallible;
use std::error::Error;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use super::body::{full, Body};
use super::pod_requests::PodOverloaded;
use crate::errors::*;
use crate::jwt::JwtFailure;
use crate::resilience::retry::{RetriesExhausted, RetryLimitReached};
use crate::resilience::{Overflow, Timeout};

/// Answers every error of the inner service with a local reply.
#[derive(Clone, Debug, Default)]
pub struct RescueLayer;

impl<S> Layer<S> for RescueLayer {
    type Service = Rescue<S>;
    fn layer(&self, inner: S) -> Rescue<S> {
        Rescue { inner }
    }
}

/// See [`RescueLayer`].
#[derive(Clone, Debug)]
pub struct Rescue<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for Rescue<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let answer = self.inner.clone().oneshot(request);
        Box::pin(answer.map(|result| Ok(result.map_or_else(|e| local_reply(&*e), flag_retries))))
    }
}

/// An upstream answer passed on when retries ran out carries flag `URX`.
fn flag_retries(mut response: Response<Body>) -> Response<Body> {
    if response.extensions().get::<RetryLimitReached>().is_some() {
        let extensions = response.extensions_mut();
        let flags = extensions
            .get::<ResponseFlags>()
            .copied()
            .unwrap_or_default();
        extensions.insert(flags.with(ResponseFlag::RetriesExhausted));
    }
    response
}

/// The local reply for `error`: its status, its flags, its message as the body.
pub fn local_reply(error: &(dyn Error + 'static)) -> Response<Body> {
    if let Some(denied) = error.downcast_ref::<ExtAuthzDenied>() {
        return authorizer_reply(denied);
    }
    let (status, flags) = status_and_flags(error);
    tracing::debug!(%error, %status, %flags, "local reply");
    // Envoy's global rate limit answers without a body.
    let global = error.is::<OverLimit>() || error.is::<RateLimitServiceFailed>();
    let body = if global {
        String::new()
    } else {
        format!("{error}")
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.extensions_mut().insert(flags);
    let limited = error.downcast_ref::<RateLimited>().map(|l| &l.headers);
    let over = error.downcast_ref::<OverLimit>().map(|l| &l.headers);
    if let Some(added) = limited.or(over) {
        let headers = response.headers_mut();
        added.iter().for_each(|(name, value)| {
            headers.insert(name, value.clone());
        });
    }
    let refused = error.downcast_ref::<JwtFailure>().map(|f| f.details());
    if let Some(details) = error
        .downcast_ref::<Denied>()
        .and_then(|d| d.details.clone())
        .or(refused)
    {
        response
            .extensions_mut()
            .insert(ResponseCodeDetails(details));
    }
    if let Some(code) = grpc_status(error) {
        grpc_trailers_only(&mut response, code);
    }
    response
}

/// What the external authorizer said the client gets.
fn authorizer_reply(denied: &ExtAuthzDenied) -> Response<Body> {
    let mut response = Response::new(full(denied.body.clone()));
    *response.status_mut() = denied.status;
    *response.headers_mut() = denied.headers.clone();
    let extensions = response.extensions_mut();
    extensions.insert(ResponseFlags::from(ResponseFlag::ExtAuthzDenied));
    extensions.insert(ResponseCodeDetails(denied.details.into()));
    response
}

/// The `grpc-status` `error` answers with, when it is a gRPC fault (possibly delayed).
fn grpc_status(error: &(dyn Error + 'static)) -> Option<u32> {
    if let Some(delayed) = error.downcast_ref::<DelayInjected>() {
        return grpc_status(&*delayed.0);
    }
    error
        .downcast_ref::<GrpcFaultAborted>()
        .map(|abort| abort.code)
}

/// gRPC's trailers-only answer: the status in the headers of an empty response.
fn grpc_trailers_only(response: &mut Response<Body>, code: u32) {
    *response.body_mut() = super::body::empty();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    headers.insert(
        "grpc-message",
        HeaderValue::from_static("fault filter abort"),
    );
}

/// The status code and flags Envoy answers `error` with.
pub fn status_and_flags(error: &(dyn Error + 'static)) -> (StatusCode, ResponseFlags) {
    use ResponseFlag as F;
    if let Some(exhausted) = error.downcast_ref::<RetriesExhausted>() {
        let (status, flags) = status_and_flags(&*exhausted.last);
        return (status, flags.with(F::RetriesExhausted));
    }
    if let Some(delayed) = error.downcast_ref::<DelayInjected>() {
        let (status, flags) = status_and_flags(&*delayed.0);
        return (status, flags.with(F::DelayInjected));
    }
    if let Some(denied) = error.downcast_ref::<ExtAuthzDenied>() {
        return (denied.status, F::ExtAuthzDenied.into());
    }
    if error.is::<GrpcFaultAborted>() {
        return (StatusCode::OK, F::FaultInjected.into());
    }
    if let Some(fault) = error.downcast_ref::<FaultAborted>() {
        return (fault.status, F::FaultInjected.into());
    }
    if let Some(refused) = error.downcast_ref::<JwtFailure>() {
        return (refused.status(), ResponseFlags::default());
    }
    if error.is::<BlackHole>() {
        return (StatusCode::BAD_GATEWAY, ResponseFlags::default());
    }
    let (status, flag) = if error.is::<NoRoute>() {
        (StatusCode::NOT_FOUND, F::NoRoute)
    } else if error.is::<NoHealthyUpstream>() {
        (StatusCode::SERVICE_UNAVAILABLE, F::NoHealthyUpstream)
    } else if error.is::<Overflow>() {
        (StatusCode::SERVICE_UNAVAILABLE, F::UpstreamOverflow)
    } else if error.is::<PodOverloaded>() {
        (StatusCode::SERVICE_UNAVAILABLE, F::Overloaded)
    } else if error.is::<Timeout>() {
        (StatusCode::GATEWAY_TIMEOUT, F::UpstreamTimeout)
    } else if let Some(limited) = error.downcast_ref::<RateLimited>() {
        (limited.status, F::RateLimited)
    } else if error.is::<OverLimit>() {
        (StatusCode::TOO_MANY_REQUESTS, F::RateLimited)
    } else if error.is::<RateLimitServiceFailed>() {
        (StatusCode::INTERNAL_SERVER_ERROR, F::RateLimitServiceError)
    } else if error.is::<Denied>() {
        (StatusCode::FORBIDDEN, F::Denied)
    } else if error.is::<ConnectFailed>() {
        (StatusCode::SERVICE_UNAVAILABLE, F::ConnectFailed)
    } else if error.is::<UpstreamReset>() {
        (StatusCode::SERVICE_UNAVAILABLE, F::UpstreamReset)
    } else {
        return (StatusCode::INTERNAL_SERVER_ERROR, ResponseFlags::default());
    };
    (status, flag.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error() -> BoxError {
        std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into()
    }

    fn overflow() -> BoxError {
        use crate::resilience::breaker::PoolLimit;
        Overflow {
            limit: PoolLimit::PendingRequests,
            max: 1,
        }
        .into()
    }

    fn route_timeout() -> BoxError {
        Timeout {
            scope: crate::resilience::timeout::TimeoutScope::PerTry,
            after: std::time::Duration::from_secs(1),
        }
        .into()
    }

    #[test]
    fn an_answer_passed_on_after_the_last_retry_is_flagged_urx() {
        let mut response = Response::new(super::super::body::empty());
        response
            .extensions_mut()
            .insert(RetryLimitReached { tries: 3 });
        let flags = flag_retries(response)
            .extensions()
            .get::<ResponseFlags>()
            .copied();
        assert_eq!(flags.map(|f| f.to_string()).as_deref(), Some("URX"));
    }

    #[test]
    fn the_global_rate_limit_answers_429_rl_and_500_rlse_without_a_body() {
        use http_body::Body as _;
        let over: BoxError = OverLimit {
            domain: "d".into(),
            headers: Vec::new(),
        }
        .into();
        let failed: BoxError = RateLimitServiceFailed {
            domain: "d".into(),
            reason: "timeout".into(),
        }
        .into();
        for (error, status, flags) in [(over, 429, "RL"), (failed, 500, "RLSE")] {
            let (code, found) = status_and_flags(&*error);
            assert_eq!((code.as_u16(), found.to_string().as_str()), (status, flags));
            let reply = local_reply(&*error);
            assert_eq!(reply.body().size_hint().exact(), Some(0), "{error}");
        }
    }

    #[test]
    fn error_to_status_and_flags_table() {
        let cases: Vec<(BoxError, u16, &str)> = vec![
            (NoRoute.into(), 404, "NR"),
            (NoHealthyUpstream.into(), 503, "UH"),
            (RateLimited::default().into(), 429, "RL"),
            (
                RateLimited {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    headers: Vec::new(),
                }
                .into(),
                503,
                "RL",
            ),
            (Denied::default().into(), 403, "DENY"),
            (JwtFailure::Expired.into(), 401, "-"),
            (JwtFailure::AudienceNotAllowed.into(), 403, "-"),
            (ConnectFailed(io_error()).into(), 503, "UF"),
            (UpstreamReset(io_error()).into(), 503, "UC"),
            (
                FaultAborted {
                    status: StatusCode::IM_A_TEAPOT,
                }
                .into(),
                418,
                "FI",
            ),
            (
                RetriesExhausted {
                    tries: 3,
                    last: ConnectFailed(io_error()).into(),
                }
                .into(),
                503,
                "UF,URX",
            ),
            (GrpcFaultAborted { code: 14 }.into(), 200, "FI"),
            (overflow(), 503, "UO"),
            (route_timeout(), 504, "UT"),
            (
                RetriesExhausted {
                    tries: 3,
                    last: route_timeout(),
                }
                .into(),
                504,
                "UT,URX",
            ),
            (
                DelayInjected(
                    FaultAborted {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                    }
                    .into(),
                )
                .into(),
                503,
                "DI,FI",
            ),
            (io_error(), 500, "-"),
        ];
        for (error, status, flags) in cases {
            let (got_status, got_flags) = status_and_flags(&*error);
            assert_eq!(
                (got_status.as_u16(), got_flags.to_string().as_str()),
                (status, flags),
                "{error}"
            );
        }
    }

    #[test]
    fn local_reply_carries_the_flags_for_telemetry() {
        let response = local_reply(&NoHealthyUpstream);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let flags = response.extensions().get::<ResponseFlags>().copied();
        assert_eq!(flags.map(|f| f.to_string()).as_deref(), Some("UH"));
    }

    #[test]
    fn a_grpc_fault_answers_trailers_only() {
        let response = local_reply(&DelayInjected(GrpcFaultAborted { code: 14 }.into()));
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("grpc-status"), "14");
        assert_eq!(header("content-type"), "application/grpc");
        let flags = response.extensions().get::<ResponseFlags>().copied();
        assert_eq!(flags.map(|f| f.to_string()).as_deref(), Some("DI,FI"));
    }

    #[test]
    fn flags_combine_in_envoys_order() {
        let flags =
            ResponseFlags::from(ResponseFlag::FaultInjected).with(ResponseFlag::DelayInjected);
        assert_eq!(flags.to_string(), "DI,FI");
        assert_eq!(ResponseFlags::default().to_string(), "-");
    }
}
