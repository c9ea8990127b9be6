//! The global rate limit's part of the rate limit layer: each question [`global_checks`] made
//! for a request goes to its filter's rate limit service, in order; [`verdict`] says what the
//! answer means — `OVER_LIMIT` refuses with [`OverLimit`] (429, `RL`), a failure with
//! `failure_mode_deny` with [`RateLimitServiceFailed`] (500, `RLSE`), else the request goes on
//! with the service's request headers, and the response headers to add come back.

use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;

use super::body::Body;
use super::rate_limit_metrics::{GlobalDecision, RateLimiting};
use crate::errors::{OverLimit, RateLimitServiceFailed};
use crate::pipeline::ConfigState;
use crate::ratelimit::{verdict, GlobalCheck, GlobalVerdict};

/// Headers for the response.
pub(super) type ResponseHeaders = Vec<(HeaderName, HeaderValue)>;

/// Asks about `request` for every check; the refusal, or the headers its response gets.
pub(super) async fn ask(
    shared: &RateLimiting,
    config: &ConfigState,
    checks: Vec<GlobalCheck>,
    request: &mut Request<Body>,
) -> Result<ResponseHeaders, crate::errors::BoxError> {
    let snapshot = config.snapshot();
    let mut response_headers = Vec::new();
    for check in checks {
        let filter = check.config();
        let domain = filter.domain.clone();
        let cluster = filter.cluster_name().unwrap_or_default();
        let target = (cluster, filter.authority());
        let service = shared.service();
        let answer = service
            .should_rate_limit(&snapshot, target, check.request.clone(), filter.timeout())
            .await;
        let reason = answer.as_ref().err().map(ToString::to_string);
        if let Some(reason) = &reason {
            tracing::debug!(%domain, %cluster, %reason, "rate limit service failed");
        }
        match verdict(filter, answer) {
            GlobalVerdict::Allowed(added) => {
                shared.counted_global(&domain, GlobalDecision::ok);
                for (name, value) in added.request {
                    request.headers_mut().insert(name, value);
                }
                response_headers.extend(added.response);
            }
            GlobalVerdict::FailedOpen => {
                shared.counted_global(&domain, GlobalDecision::failure_mode_allowed);
            }
            GlobalVerdict::OverLimit(headers) => {
                shared.counted_global(&domain, GlobalDecision::over_limit);
                return Err(OverLimit { domain, headers }.into());
            }
            GlobalVerdict::FailedClosed => {
                shared.counted_global(&domain, GlobalDecision::error);
                let reason = reason.unwrap_or_default();
                return Err(RateLimitServiceFailed { domain, reason }.into());
            }
        }
    }
    Ok(response_headers)
}
