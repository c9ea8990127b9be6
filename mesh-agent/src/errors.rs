//! The ways a request fails on its path, one small typed error each, and Envoy's response
//! flags. Only the rescue layer turns them into status codes and flags; the errors that carry a
//! policy's numbers (overflow, timeout, retries exhausted) sit with their layer in resilience/.

use std::fmt;

use hyper::StatusCode;

/// Any error, boxed: what the layers of the stack fail with (each a small typed error inside).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// No route matches the request (VirtualService rules exist, none matched): `NR`.
#[derive(Debug, thiserror::Error)]
#[error("no route matches the request")]
pub struct NoRoute;

/// REGISTRY_ONLY: the destination is in no registry the client may reach (Envoy's
/// `BlackHoleCluster`): 502, no flag.
#[derive(Debug, thiserror::Error)]
#[error("destination not in the registry (REGISTRY_ONLY)")]
pub struct BlackHole;

/// The destination has no endpoint to send to: `UH`.
#[derive(Debug, thiserror::Error)]
#[error("no healthy upstream")]
pub struct NoHealthyUpstream;

/// A fault rule aborted the request with this status: `FI`.
#[derive(Debug, thiserror::Error)]
#[error("fault filter abort")]
pub struct FaultAborted {
    /// The status the fault answers with.
    pub status: StatusCode,
}

/// A fault rule aborted a gRPC request with this `grpc-status`: `FI`, answered HTTP 200 in
/// gRPC's trailers-only form.
#[derive(Debug, thiserror::Error)]
#[error("fault filter abort")]
pub struct GrpcFaultAborted {
    /// The gRPC status code.
    pub code: u32,
}

/// A fault rule delayed the request, which then failed: the failure's own flags plus `DI`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DelayInjected(#[source] pub BoxError);

/// A rate limit refused the request: `RL`, answered with `status` (429 unless configured) and
/// the limit's `response_headers_to_add`.
#[derive(Debug, thiserror::Error)]
#[error("local_rate_limited")]
pub struct RateLimited {
    /// The status answered.
    pub status: StatusCode,
    /// Headers added to the answer.
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
}

impl Default for RateLimited {
    /// 429, no headers.
    fn default() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: Vec::new(),
        }
    }
}

/// An authorization policy denied the request: `DENY`. `details` are Envoy's response code
/// details (`rbac_access_denied_matched_policy[ns[NS]-policy[NAME]-rule[N]]`) for the access log.
#[derive(Debug, Default, thiserror::Error)]
#[error("RBAC: access denied")]
pub struct Denied {
    pub details: Option<String>,
}

/// A CUSTOM policy's external authorizer refused the request, or its check failed and the
/// provider does not fail open: answered with the authorizer's status, headers and body
/// (`UAEX`).
#[derive(Debug, thiserror::Error)]
#[error("external authorization denied the request ({status})")]
pub struct ExtAuthzDenied {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: bytes::Bytes,
    /// Envoy's response code details: `ext_authz_denied` or `ext_authz_error`.
    pub details: &'static str,
}

/// Why the proxy answered a request itself, in Envoy's words; travels in the response's
/// extensions to the access log (`response_code_details`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseCodeDetails(pub String);

/// The upstream connection could not be opened: `UF`. The pool raises it; the retry policy and
/// the outlier detector tell it from a reset.
#[derive(Debug, thiserror::Error)]
#[error("upstream connect error: connecting to the upstream endpoint failed")]
pub struct ConnectFailed(#[source] pub BoxError);

/// The upstream refused the stream (HTTP/2 `REFUSED_STREAM`) before processing it.
#[derive(Debug, Default, thiserror::Error)]
#[error("the upstream endpoint refused the stream")]
pub struct StreamRefused;

/// The upstream connection failed after it was opened, before a response: `UC`.
#[derive(Debug, thiserror::Error)]
#[error("upstream connect error or disconnect/reset before headers: {0}")]
pub struct UpstreamReset(#[source] pub BoxError);

/// The rate limit service answered `OVER_LIMIT`: `RL`, 429 with no body (as Envoy), with
/// `x-envoy-ratelimited: true` and the answer's headers.
#[derive(Debug, thiserror::Error)]
#[error("over the limit of rate limit domain {domain}")]
pub struct OverLimit {
    /// The filter's domain (for the log).
    pub domain: String,
    /// Headers added to the answer.
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
}

/// The rate limit service could not answer and `failure_mode_deny` is on: `RLSE`, 500 with no
/// body (as Envoy).
#[derive(Debug, thiserror::Error)]
#[error("rate limit service of domain {domain} failed: {reason}")]
pub struct RateLimitServiceFailed {
    /// The filter's domain.
    pub domain: String,
    /// What failed.
    pub reason: String,
}

/// One of Envoy's response flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum ResponseFlag {
    /// `NR`: no route.
    NoRoute = 1 << 0,
    /// `UH`: no healthy upstream.
    NoHealthyUpstream = 1 << 1,
    /// `UF`: upstream connection failure.
    ConnectFailed = 1 << 2,
    /// `UC`: upstream connection termination.
    UpstreamReset = 1 << 3,
    /// `UO`: upstream overflow (circuit breaking).
    UpstreamOverflow = 1 << 4,
    /// `UT`: upstream request timeout.
    UpstreamTimeout = 1 << 5,
    /// `URX`: retries exhausted.
    RetriesExhausted = 1 << 6,
    /// `DI`: delay injected.
    DelayInjected = 1 << 7,
    /// `FI`: fault (abort) injected.
    FaultInjected = 1 << 8,
    /// `RL`: rate limited.
    RateLimited = 1 << 9,
    /// `DENY`: denied by authorization policy.
    Denied = 1 << 10,
    /// `RLSE`: the rate limit service failed and `failure_mode_deny` refused the request.
    RateLimitServiceError = 1 << 11,
    /// `UAEX`: denied by the external authorizer (or its check failed).
    ExtAuthzDenied = 1 << 12,
    /// `OM`: refused by overload protection (a pod's requests in flight at their cap).
    Overloaded = 1 << 13,
}

impl ResponseFlag {
    /// Every flag, in the order Envoy prints them.
    const ALL: [(ResponseFlag, &'static str); 14] = [
        (Self::NoHealthyUpstream, "UH"),
        (Self::ConnectFailed, "UF"),
        (Self::UpstreamOverflow, "UO"),
        (Self::NoRoute, "NR"),
        (Self::UpstreamReset, "UC"),
        (Self::UpstreamTimeout, "UT"),
        (Self::DelayInjected, "DI"),
        (Self::FaultInjected, "FI"),
        (Self::RateLimited, "RL"),
        (Self::RateLimitServiceError, "RLSE"),
        (Self::RetriesExhausted, "URX"),
        (Self::Denied, "DENY"),
        (Self::ExtAuthzDenied, "UAEX"),
        (Self::Overloaded, "OM"),
    ];
}

/// The set of flags of one response; travels in the response's extensions to telemetry.
/// Displays as Envoy does: `-` when empty, else the flags joined by `,`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseFlags(u16);

impl ResponseFlags {
    /// Adds `flag`.
    pub fn insert(&mut self, flag: ResponseFlag) {
        self.0 |= flag as u16;
    }

    /// These flags and `flag`.
    pub fn with(mut self, flag: ResponseFlag) -> Self {
        self.insert(flag);
        self
    }

    /// Whether `flag` is set.
    pub fn contains(self, flag: ResponseFlag) -> bool {
        self.0 & flag as u16 != 0
    }
}

impl From<ResponseFlag> for ResponseFlags {
    fn from(flag: ResponseFlag) -> Self {
        Self::default().with(flag)
    }
}

impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ResponseFlag::ALL
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        match names.is_empty() {
            true => f.write_str("-"),
            false => f.write_str(&names.join(",")),
        }
    }
}
