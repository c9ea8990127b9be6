//! An EnvoyFilter's local rate limits as Envoy validates them: a `stat_prefix`; token buckets
//! with `max_tokens` and `tokens_per_fill` above 0 and a `fill_interval` of at least 50 ms (a
//! route's configuration and each descriptor must have one); descriptors with entries;
//! header names and values that HTTP allows; `rate_limits` entries with actions, header
//! actions naming a header and a key (a virtual host's too). The global rate limit filter's
//! problems (a domain, the service's cluster) are found as it is read. Patches the mesh does
//! not act on are `unsupported`'s.

use super::finding::Findings;
use super::labels::selector_labels;
use crate::resources::envoy_patch::read;
use crate::resources::local_rate_limit::{
    HeaderValueOption, LocalRateLimitConfig, RouteRateLimit, TokenBucketConfig, MIN_FILL_INTERVAL,
};
use crate::resources::EnvoyFilterSpec;

/// Problems of the EnvoyFilter `spec`.
pub(crate) fn envoy_filter(found: &mut Findings, spec: &EnvoyFilterSpec) {
    if let Some(selector) = &spec.workload_selector {
        selector_labels(found, "spec.workloadSelector.labels", &selector.labels);
    }
    let Ok(readings) = read(spec) else { return };
    for patch in readings.into_iter().filter_map(|r| r.patch.ok()) {
        let at = &patch.config_at;
        match &patch.config {
            Some(config) => local_rate_limit(found, at, config, patch.scope.filter),
            None if !patch.scope.filter && patch.rate_limits.is_empty() => found.error(
                at.as_str(),
                "a route's local rate limit needs its configuration or rate_limits",
            ),
            None => {}
        }
        let limits_at = match patch.virtual_host {
            true => format!("{at}.rateLimits"),
            false => {
                let value = at.split(".typedPerFilterConfig").next().unwrap_or(at);
                format!("{value}.route.rateLimits")
            }
        };
        for (i, limit) in patch.rate_limits.iter().enumerate() {
            rate_limit(found, &format!("{limits_at}[{i}]"), limit);
        }
    }
}

fn local_rate_limit(found: &mut Findings, at: &str, config: &LocalRateLimitConfig, filter: bool) {
    if config.stat_prefix.is_empty() {
        found.error(
            format!("{at}.statPrefix"),
            "required: the prefix of its statistics",
        );
    }
    match &config.token_bucket {
        Some(bucket) => token_bucket(found, &format!("{at}.tokenBucket"), bucket),
        None if !filter => found.error(
            format!("{at}.tokenBucket"),
            "required in a route's configuration (Envoy rejects it without)",
        ),
        None => {}
    }
    for (i, descriptor) in config.descriptors.iter().enumerate() {
        let d_at = format!("{at}.descriptors[{i}]");
        if descriptor.entries.is_empty() {
            found.error(
                format!("{d_at}.entries"),
                "a descriptor needs at least one entry",
            );
        }
        for (j, entry) in descriptor.entries.iter().enumerate() {
            if entry.key.is_empty() {
                found.error(format!("{d_at}.entries[{j}].key"), "required");
            }
        }
        match &descriptor.token_bucket {
            Some(bucket) => token_bucket(found, &format!("{d_at}.tokenBucket"), bucket),
            None => found.error(format!("{d_at}.tokenBucket"), "required"),
        }
    }
    headers(
        found,
        &format!("{at}.responseHeadersToAdd"),
        &config.response_headers_to_add,
    );
    let when_not = format!("{at}.requestHeadersToAddWhenNotEnforced");
    headers(
        found,
        &when_not,
        &config.request_headers_to_add_when_not_enforced,
    );
}

fn token_bucket(found: &mut Findings, at: &str, bucket: &TokenBucketConfig) {
    if bucket.max_tokens == 0 {
        found.error(format!("{at}.maxTokens"), "must be above 0");
    }
    if bucket.tokens_per_fill == Some(0) {
        found.error(format!("{at}.tokensPerFill"), "must be above 0");
    }
    match &bucket.fill_interval {
        None => found.error(format!("{at}.fillInterval"), "required"),
        Some(interval) if interval.value < MIN_FILL_INTERVAL => found.error(
            format!("{at}.fillInterval"),
            format!("{interval} is below the 50ms Envoy allows"),
        ),
        Some(_) => {}
    }
}

fn headers(found: &mut Findings, at: &str, headers: &[HeaderValueOption]) {
    for (i, option) in headers.iter().enumerate() {
        let header = &option.header;
        if hyper::header::HeaderName::from_bytes(header.key.as_bytes()).is_err() {
            let message = format!("{:?} is not an HTTP header name", header.key);
            found.error(format!("{at}[{i}].header.key"), message);
        }
        if hyper::header::HeaderValue::from_str(&header.value).is_err() {
            let message = format!("{:?} is not an HTTP header value", header.value);
            found.error(format!("{at}[{i}].header.value"), message);
        }
    }
}

fn rate_limit(found: &mut Findings, at: &str, limit: &RouteRateLimit) {
    if limit.actions.is_empty() {
        found.error(
            format!("{at}.actions"),
            "a rate_limits entry needs at least one action",
        );
    }
    for (j, action) in limit.actions.iter().enumerate() {
        let Some(headers) = &action.request_headers else {
            continue;
        };
        let a_at = format!("{at}.actions[{j}].requestHeaders");
        if headers.header_name.is_empty() {
            found.error(format!("{a_at}.headerName"), "required");
        }
        if headers.descriptor_key.is_empty() {
            found.error(format!("{a_at}.descriptorKey"), "required");
        }
    }
}
