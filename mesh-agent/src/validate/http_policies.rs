//! The policies of one HTTP rule, as Istio's validation reads them: `retries` (Envoy's
//! `retryOn` conditions, gRPC ones and HTTP status codes; nothing set beside `attempts: 0`;
//! a warning for the conditions the mesh does not act on),
//! `fault` (an abort and/or a delay, each of one kind), `corsPolicy` and the header edits.

use super::durations::duration;
use super::finding::Findings;
use super::http_match::string_match;
use crate::resources::{
    Abort, CorsPolicy, Delay, Fault, HeaderEdits, Headers, Percent, Retry, GRPC_STATUS_NAMES,
};

/// `x-envoy-retry-on` and `x-envoy-retry-grpc-on` conditions Istio accepts in `retryOn`.
const RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// The `retryOn` conditions Istio accepts that the mesh does not act on: a `retryOn` naming one
/// is read as Istio's default conditions, and a warning says so when the configuration loads.
pub(crate) const NOT_ACTED_ON: [&str; 4] = [
    "reset-before-request",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
];

/// What the mesh does with a `retryOn` it cannot read whole.
pub(crate) const READ_AS_DEFAULT: &str = "the whole retryOn is read as Istio's default \
     conditions (connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes)";

/// The first condition of `retry_on` the mesh does not read (it reads Envoy's conditions but
/// those in [`NOT_ACTED_ON`], and status codes 100-599; blanks around a condition are skipped).
pub(crate) fn unread_retry_on(retry_on: &str) -> Option<&str> {
    let conditions = retry_on.split(',').map(str::trim).filter(|c| !c.is_empty());
    conditions.into_iter().find(|c| {
        let status = c
            .parse::<u16>()
            .is_ok_and(|code| (100..600).contains(&code));
        !status && (!RETRY_ON.contains(c) || NOT_ACTED_ON.contains(c))
    })
}

/// Status codes Go's `http.StatusText` names (Istio accepts exactly these in `retryOn`).
fn is_named_status(code: u16) -> bool {
    matches!(code, 100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418
        | 421..=426 | 428 | 429 | 431 | 451 | 500..=508 | 510 | 511)
}

/// Methods a CORS policy may allow.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// Problems of `retries` at `at`.
pub(crate) fn retries(found: &mut Findings, at: &str, retry: &Retry) {
    let configured = retry.per_try_timeout.is_some()
        || retry.retry_on.is_some()
        || retry.retry_remote_localities.is_some();
    if retry.attempts == 0 && configured {
        found.error(
            at,
            "retry policy configured while attempts is 0 (retries disabled)",
        );
    }
    duration(
        found,
        format!("{at}.perTryTimeout"),
        retry.per_try_timeout.as_ref(),
    );
    for condition in retry.retry_on.iter().flat_map(|on| on.split(',')) {
        let status = condition.parse::<u16>().is_ok_and(is_named_status);
        if !status && !RETRY_ON.contains(&condition) {
            let message = format!("{condition:?} is not a valid retryOn condition");
            found.error(format!("{at}.retryOn"), message);
        } else if NOT_ACTED_ON.contains(&condition) {
            let message = format!("{condition:?} is not acted on by the mesh: {READ_AS_DEFAULT}");
            found.warning(format!("{at}.retryOn"), message);
        }
    }
}

/// Problems of `fault` at `at`.
pub(crate) fn fault(found: &mut Findings, at: &str, fault: &Fault) {
    if fault.abort.is_none() && fault.delay.is_none() {
        found.error(at, "fault injection must have an abort and/or a delay");
    }
    if let Some(abort) = &fault.abort {
        fault_abort(found, &format!("{at}.abort"), abort);
    }
    if let Some(delay) = &fault.delay {
        fault_delay(found, &format!("{at}.delay"), delay);
    }
}

fn fault_abort(found: &mut Findings, at: &str, abort: &Abort) {
    fraction(found, at, abort.percentage.as_ref());
    let kinds = [
        abort.http_status.is_some(),
        abort.grpc_status.is_some(),
        abort.http2_error.is_some(),
    ];
    match kinds.iter().filter(|k| **k).count() {
        0 => found.warning(at, "abort configured, but error type not set"),
        1 => {}
        _ => found.error(at, "set only one of httpStatus, grpcStatus or http2Error"),
    }
    if let Some(status) = abort.grpc_status.as_deref() {
        if !GRPC_STATUS_NAMES.contains(&status) {
            let message =
                format!("gRPC status {status:?} is not supported (a name such as NOT_FOUND)");
            found.error(format!("{at}.grpcStatus"), message);
        }
    }
    if abort.http2_error.is_some() {
        found.error(
            format!("{at}.http2Error"),
            "HTTP/2 abort fault injection is not supported (Istio)",
        );
    }
}

fn fault_delay(found: &mut Findings, at: &str, delay: &Delay) {
    fraction(found, at, delay.percentage.as_ref());
    if delay.fixed_delay.is_some() && delay.exponential_delay.is_some() {
        found.error(at, "set only one of fixedDelay or exponentialDelay");
    }
    duration(
        found,
        format!("{at}.fixedDelay"),
        delay.fixed_delay.as_ref(),
    );
    if delay.exponential_delay.is_some() {
        found.error(
            format!("{at}.exponentialDelay"),
            "exponentialDelay is not supported (Istio)",
        );
    }
}

/// Istio's `validatePercentage`: 0, or at least 0.0001 (the range itself is `ranges`' check).
fn fraction(found: &mut Findings, at: &str, percent: Option<&Percent>) {
    if let Some(value) = percent.map(|p| p.value).filter(|v| *v > 0.0 && *v < 0.0001) {
        found.error(
            format!("{at}.percentage.value"),
            format!("{value} is neither 0 nor at least 0.0001"),
        );
    }
}

/// Problems of `corsPolicy` at `at`.
pub(crate) fn cors(found: &mut Findings, at: &str, cors: &CorsPolicy) {
    for (i, origin) in cors.allow_origins.iter().enumerate() {
        let field = format!("{at}.allowOrigins[{i}]");
        let value = [
            origin.exact.as_deref(),
            origin.prefix.as_deref(),
            origin.regex.as_ref().map(|r| r.as_str()),
        ];
        if value.iter().flatten().all(|v| v.is_empty()) {
            found.error(
                field.clone(),
                "an allowed origin needs a non-empty exact, prefix or regex",
            );
        }
        string_match(found, &field, origin, true);
    }
    for (i, method) in cors.allow_methods.iter().enumerate() {
        if !METHODS.contains(&method.as_str()) {
            found.error(
                format!("{at}.allowMethods[{i}]"),
                format!("{method:?} is not a supported HTTP method"),
            );
        }
    }
    for (list, names) in [
        ("allowHeaders", &cors.allow_headers),
        ("exposeHeaders", &cors.expose_headers),
    ] {
        for (i, name) in names.iter().enumerate() {
            let plain = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if name.is_empty() || (name != "*" && !plain) {
                found.error(
                    format!("{at}.{list}[{i}]"),
                    format!("{name:?} is not a valid header name"),
                );
            }
        }
    }
    let max_age = cors.max_age.as_ref();
    duration(found, format!("{at}.maxAge"), max_age);
    if max_age.is_some_and(|age| age.value.subsec_nanos() != 0) {
        found.error(format!("{at}.maxAge"), "maxAge is accurate only to seconds");
    }
}

/// Problems of the header edits at `at` (`headers`): no pseudo-headers, `Host` only where the
/// authority may be rewritten (request `set`/`add`), values without control characters.
pub(crate) fn header_edits(found: &mut Findings, at: &str, headers: &Headers) {
    if let Some(request) = &headers.request {
        edits(found, &format!("{at}.request"), request, true);
    }
    if let Some(response) = &headers.response {
        edits(found, &format!("{at}.response"), response, false);
    }
}

fn edits(found: &mut Findings, at: &str, edits: &HeaderEdits, request: bool) {
    for (op, map) in [("set", &edits.set), ("add", &edits.add)] {
        for (name, value) in map {
            let field = format!("{at}.{op}.{name}");
            found.error_if(field.clone(), edited_name(name, request));
            if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
                found.error(field, "header value has control characters");
            }
        }
    }
    for (i, name) in edits.remove.iter().enumerate() {
        found.error_if(format!("{at}.remove[{i}]"), edited_name(name, false));
    }
}

/// Whether `name` is the authority (`:authority` or `Host`).
pub(crate) fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

fn edited_name(name: &str, authority_allowed: bool) -> Result<(), String> {
    let internal = name.starts_with(':') || name.eq_ignore_ascii_case("host");
    match name {
        "" => Err("header name cannot be empty".into()),
        _ if authority_allowed && is_authority(name) => Ok(()),
        _ if name.eq_ignore_ascii_case("host") => {
            Err(format!("invalid header {name:?}: cannot set Host header"))
        }
        _ if internal => Err(format!(
            "invalid header {name:?}: header cannot have \":\" prefix"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "http_policies_tests.rs"]
mod tests;
