//! The global rate limit decision, as Envoy's `ratelimit` filter makes it, without I/O: which
//! inserted filters ask the rate limit service about a request and with which descriptors
//! (the matching routes' `rate_limits` of the filter's `stage`, else the virtual host's; none
//! made: not asked), and what the service's answer — or its failure — means: `OVER_LIMIT` is
//! a 429 with `x-envoy-ratelimited: true`, a failure lets the request through unless
//! `failure_mode_deny`, and `x-ratelimit-*` headers are added when enabled.

use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};

use super::descriptors::{descriptors, RequestFacts};
use super::local::{covers, RequestPlace};
use super::rls_proto::{Code, DescriptorStatus, RateLimitRequest, RateLimitResponse, Unit};
use super::rls_proto::{Entry, RateLimitDescriptor};
use crate::resources::global_rate_limit::GlobalRateLimitConfig;
use crate::snapshot::RateLimitFilter;

/// One question to the rate limit service.
#[derive(Clone, Debug)]
pub struct GlobalCheck {
    /// The filter's configuration: domain, service, timeout, failure mode.
    pub filter: Arc<RateLimitFilter>,
    /// What is asked.
    pub request: RateLimitRequest,
}

impl GlobalCheck {
    /// The filter's configuration.
    pub fn config(&self) -> &GlobalRateLimitConfig {
        self.filter.patch.global.as_ref().expect("a global filter")
    }
}

/// What an answer (or its absence) means for the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalVerdict {
    /// Through, with the service's request headers and the response's.
    Allowed(AddedHeaders),
    /// Through although the service failed (`failure_mode_deny` off).
    FailedOpen,
    /// Refused: 429, flag `RL`, with these response headers.
    OverLimit(Vec<(HeaderName, HeaderValue)>),
    /// Refused because the service failed: 500, flag `RLSE`.
    FailedClosed,
}

/// Headers the service's answer adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddedHeaders {
    pub request: Vec<(HeaderName, HeaderValue)>,
    pub response: Vec<(HeaderName, HeaderValue)>,
}

/// The questions for a request at `place` under `filters` (one side's patches, in order).
pub fn global_checks(
    filters: &[Arc<RateLimitFilter>],
    place: &RequestPlace,
    facts: RequestFacts,
) -> Vec<GlobalCheck> {
    let covering = |virtual_host: bool| {
        filters.iter().filter(move |f| {
            let patch = &f.patch;
            !patch.scope.filter
                && patch.virtual_host == virtual_host
                && !patch.rate_limits.is_empty()
                && covers(&patch.scope, place)
        })
    };
    // Envoy's `vh_rate_limits: OVERRIDE`: the virtual host's only for routes without their own.
    let route_level: Vec<_> = covering(false).collect();
    let routes = if route_level.is_empty() {
        covering(true).collect()
    } else {
        route_level
    };
    let inserted = filters
        .iter()
        .filter(|f| f.patch.global.is_some() && f.patch.scope.port.is_none_or(|p| p == place.port));
    let mut checks = Vec::new();
    for filter in inserted {
        let config = filter.patch.global.as_ref().expect("filtered");
        let stage = config.stage.unwrap_or(0);
        let limits = routes.iter().flat_map(|f| &f.patch.rate_limits);
        let staged = limits.filter(|l| l.stage.unwrap_or(0) == stage);
        let made = descriptors(staged, facts);
        if made.is_empty() {
            continue;
        }
        let descriptors = made.into_iter().map(|entries| RateLimitDescriptor {
            entries: entries
                .into_iter()
                .map(|e| Entry {
                    key: e.key,
                    value: e.value,
                })
                .collect(),
        });
        checks.push(GlobalCheck {
            filter: filter.clone(),
            request: RateLimitRequest {
                domain: config.domain.clone(),
                descriptors: descriptors.collect(),
                hits_addend: 0,
            },
        });
    }
    checks
}

/// What `answer` means under `config`.
pub fn verdict<E>(
    config: &GlobalRateLimitConfig,
    answer: Result<RateLimitResponse, E>,
) -> GlobalVerdict {
    let response = match answer {
        Ok(response) => response,
        Err(_) if config.failure_mode_deny => return GlobalVerdict::FailedClosed,
        Err(_) => return GlobalVerdict::FailedOpen,
    };
    let mut added = AddedHeaders {
        request: headers(&response.request_headers_to_add),
        response: headers(&response.response_headers_to_add),
    };
    if config.x_ratelimit_headers() {
        added
            .response
            .extend(x_ratelimit_headers(&response.statuses));
    }
    if response.overall_code == Code::OverLimit as i32 {
        let limited = (
            HeaderName::from_static("x-envoy-ratelimited"),
            HeaderValue::from_static("true"),
        );
        added.response.push(limited);
        return GlobalVerdict::OverLimit(added.response);
    }
    GlobalVerdict::Allowed(added)
}

fn headers(values: &[super::rls_proto::HeaderValue]) -> Vec<(HeaderName, HeaderValue)> {
    let pair = |h: &super::rls_proto::HeaderValue| {
        let name = HeaderName::from_bytes(h.key.as_bytes()).ok()?;
        let value = if h.raw_value.is_empty() {
            HeaderValue::from_str(&h.value).ok()?
        } else {
            HeaderValue::from_bytes(&h.raw_value).ok()?
        };
        Some((name, value))
    };
    values.iter().filter_map(pair).collect()
}

/// The IETF draft 03 headers Envoy writes: the limit closest to its end (least remaining)
/// first, then every limit with its window; what remains of it; when it resets.
fn x_ratelimit_headers(statuses: &[DescriptorStatus]) -> Vec<(HeaderName, HeaderValue)> {
    let limited = statuses.iter().filter(|s| s.current_limit.is_some());
    let Some(closest) = limited.clone().min_by_key(|s| s.limit_remaining) else {
        return Vec::new();
    };
    let first = closest.current_limit.as_ref().expect("filtered");
    let mut limit = first.requests_per_unit.to_string();
    for status in limited {
        let current = status.current_limit.as_ref().expect("filtered");
        let unit = Unit::try_from(current.unit).unwrap_or(Unit::Unknown);
        limit += &format!(", {};w={}", current.requests_per_unit, unit.seconds());
        if !current.name.is_empty() {
            limit += &format!(";name=\"{}\"", current.name);
        }
    }
    let mut found = vec![
        ("x-ratelimit-limit", limit),
        ("x-ratelimit-remaining", closest.limit_remaining.to_string()),
    ];
    if let Some(reset) = &closest.duration_until_reset {
        found.push(("x-ratelimit-reset", reset.seconds.max(0).to_string()));
    }
    let pair = |(name, value): (&'static str, String)| {
        Some((
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).ok()?,
        ))
    };
    found.into_iter().filter_map(pair).collect()
}

#[cfg(test)]
#[path = "global_tests.rs"]
mod tests;
