//! The local rate limit decision for one request, as Envoy's `local_ratelimit` filter makes
//! it: each inserted filter whose listener port matches runs with the most specific
//! configuration (a matching route's replaces the filter's); for `filter_enabled` of
//! requests it checks the buckets — the request's descriptors that match a configured one
//! each take from that descriptor's bucket, then (`always_consume_default_token_bucket`, on by
//! default, or when none matched) the default bucket — and a refusal is enforced for
//! `filter_enforced` of them, else only counted.

use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use hyper::StatusCode;
use tokio::time::Instant;

use super::buckets::{BucketKey, Buckets};
use super::descriptors::{descriptors, RequestFacts};
use super::token_bucket::BucketShape;
use crate::chance::Chance;
use crate::resources::envoy_patch::PatchScope;
use crate::resources::local_rate_limit::{
    DescriptorEntry, HeaderValueOption, LocalRateLimitConfig, TokenBucketConfig,
};
use crate::snapshot::RateLimitFilter;

/// Where a request is, as patches match it.
#[derive(Clone, Debug, Default)]
pub struct RequestPlace<'a> {
    /// The listener's port (inbound: the pod's; outbound: the Service's; the gateway's).
    pub port: u16,
    /// Istio's virtual host name (`inbound|http|9080`, `host:port`).
    pub vhost: Option<&'a str>,
    /// The VirtualService route's name.
    pub route: Option<&'a str>,
}

/// What one filter decided about a request it limited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limited {
    /// The configuration's `stat_prefix`.
    pub stat_prefix: String,
    /// Whether the request is refused (else only counted, and `request_headers` added).
    pub enforced: bool,
    /// The status to answer (429 unless configured otherwise).
    pub status: StatusCode,
    /// `response_headers_to_add`.
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    /// `request_headers_to_add_when_not_enforced`.
    pub request_headers: Vec<(HeaderName, HeaderValue)>,
}

/// One filter's verdict on a request it checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A token was there.
    Allowed { stat_prefix: String },
    /// No token.
    Limited(Limited),
}

/// The local rate limits of one side of one proxy instance.
#[derive(Clone, Debug, Default)]
pub struct LocalRateLimits {
    /// `namespace/pod` of the workload limited: each has its own buckets.
    pub instance: Arc<str>,
    /// The patches that apply to it, in order.
    pub filters: Vec<Arc<RateLimitFilter>>,
}

impl LocalRateLimits {
    /// Whether nothing limits this side.
    pub fn is_empty(&self) -> bool {
        !self.filters.iter().any(|f| f.patch.scope.filter)
    }

    /// Whether a global rate limit filter applies to this side.
    pub fn has_global(&self) -> bool {
        self.filters.iter().any(|f| f.patch.global.is_some())
    }

    /// The verdicts of the filters that checked a request at `place` (none when no filter
    /// applies or none drew it as enabled).
    pub fn check(
        &self,
        place: &RequestPlace,
        facts: RequestFacts,
        buckets: &Buckets,
        chance: &Chance,
    ) -> Vec<Verdict> {
        let routes: Vec<&RateLimitFilter> = self
            .filters
            .iter()
            .filter(|f| !f.patch.scope.filter && covers(&f.patch.scope, place))
            .map(|f| &**f)
            .collect();
        let route_config = routes
            .iter()
            .rev()
            .find_map(|f| Some((f.id.clone(), f.patch.config.as_ref()?)));
        let made = descriptors(routes.iter().flat_map(|f| &f.patch.rate_limits), facts);
        let inserted = self
            .filters
            .iter()
            .filter(|f| f.patch.scope.filter && f.patch.global.is_none());
        let matching = inserted.filter(|f| f.patch.scope.port.is_none_or(|p| p == place.port));
        let now = Instant::now();
        let mut verdicts = Vec::new();
        for filter in matching {
            let (patch, config) = match &route_config {
                Some((id, config)) => (id.clone(), *config),
                None => match &filter.patch.config {
                    Some(config) => (filter.id.clone(), config),
                    None => continue,
                },
            };
            let enabled = config
                .filter_enabled
                .as_ref()
                .map_or(0.0, |f| f.default_value.percent());
            if !chance.hits(enabled) {
                continue;
            }
            let key = |descriptor: Vec<DescriptorEntry>, shape| BucketKey {
                patch: patch.clone(),
                instance: self.instance.clone(),
                descriptor,
                shape,
            };
            let allowed = allowed(config, &made, |d, shape| {
                buckets.try_take(&key(d, shape), now)
            });
            verdicts.push(verdict(config, allowed, chance));
        }
        verdicts
    }
}

/// Whether a patch's route match covers `place`.
pub(super) fn covers(scope: &PatchScope, place: &RequestPlace) -> bool {
    scope.port.is_none_or(|p| p == place.port)
        && scope
            .vhost
            .as_deref()
            .is_none_or(|v| Some(v) == place.vhost)
        && scope
            .route
            .as_deref()
            .is_none_or(|r| Some(r) == place.route)
}

/// Envoy's check: matched descriptors first (stopping at the first empty bucket), then the
/// default bucket.
fn allowed(
    config: &LocalRateLimitConfig,
    made: &[Vec<DescriptorEntry>],
    mut take: impl FnMut(Vec<DescriptorEntry>, BucketShape) -> bool,
) -> bool {
    let mut matched = false;
    for descriptor in &config.descriptors {
        let Some(shape) = descriptor.token_bucket.as_ref().and_then(shape) else {
            continue;
        };
        if !made.contains(&descriptor.entries) {
            continue;
        }
        matched = true;
        if !take(descriptor.entries.clone(), shape) {
            return false;
        }
    }
    let default = config.token_bucket.as_ref().and_then(shape);
    let consume = config.always_consume_default_token_bucket.unwrap_or(true) || !matched;
    match default {
        Some(shape) if consume => take(Vec::new(), shape),
        _ => true,
    }
}

/// The bucket's numbers; `None` when it cannot limit (validation rejects that).
pub fn shape(bucket: &TokenBucketConfig) -> Option<BucketShape> {
    Some(BucketShape {
        max_tokens: bucket.max_tokens,
        tokens_per_fill: bucket.tokens_per_fill.unwrap_or(1),
        fill_interval: bucket.fill_interval.as_ref()?.value,
    })
    .filter(|s| s.max_tokens > 0 && !s.fill_interval.is_zero())
}

fn verdict(config: &LocalRateLimitConfig, allowed: bool, chance: &Chance) -> Verdict {
    let stat_prefix = config.stat_prefix.clone();
    if allowed {
        return Verdict::Allowed { stat_prefix };
    }
    let enforced = config
        .filter_enforced
        .as_ref()
        .map_or(0.0, |f| f.default_value.percent());
    let code = config.status.map_or(429, |s| s.code);
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.as_u16() >= 400);
    Verdict::Limited(Limited {
        stat_prefix,
        enforced: chance.hits(enforced),
        status: status.unwrap_or(StatusCode::TOO_MANY_REQUESTS),
        response_headers: headers(&config.response_headers_to_add),
        request_headers: headers(&config.request_headers_to_add_when_not_enforced),
    })
}

fn headers(options: &[HeaderValueOption]) -> Vec<(HeaderName, HeaderValue)> {
    let pair = |o: &HeaderValueOption| {
        let name = HeaderName::from_bytes(o.header.key.as_bytes()).ok()?;
        Some((name, HeaderValue::from_str(&o.header.value).ok()?))
    };
    options.iter().filter_map(pair).collect()
}
