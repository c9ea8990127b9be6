//! The retry decision: which outcomes a route retries (`retryOn`), how often (`attempts`), how
//! long each try may take (`perTryTimeout`) and how long to wait between tries (Envoy's fully
//! jittered exponential backoff, 25 ms base).

use std::time::Duration;

use crate::clock;
use crate::resilience::outcome::{LocalFailure, Outcome};

/// The `retryOn` conditions, with the status codes `retriable-status-codes` names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryOn {
    conditions: u16,
    codes: StatusSet,
}

/// One `retryOn` condition, by its Envoy token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `5xx`: any 5xx answer, and any local failure.
    FiveXx,
    /// `gateway-error`: 502, 503, 504, and any local failure.
    GatewayError,
    /// `reset`: no answer at all (disconnect, reset, per-try timeout).
    Reset,
    /// `connect-failure`: the connection could not be made.
    ConnectFailure,
    /// `retriable-4xx`: 409.
    Retriable4xx,
    /// `refused-stream`: the HTTP/2 stream was refused.
    RefusedStream,
    /// `retriable-status-codes`: the listed codes.
    RetriableStatusCodes,
    /// gRPC `cancelled` (1).
    Cancelled,
    /// gRPC `deadline-exceeded` (4).
    DeadlineExceeded,
    /// gRPC `resource-exhausted` (8).
    ResourceExhausted,
    /// gRPC `internal` (13).
    Internal,
    /// gRPC `unavailable` (14).
    Unavailable,
}

const CONDITIONS: [(&str, Condition); 12] = [
    ("5xx", Condition::FiveXx),
    ("gateway-error", Condition::GatewayError),
    ("reset", Condition::Reset),
    ("connect-failure", Condition::ConnectFailure),
    ("retriable-4xx", Condition::Retriable4xx),
    ("refused-stream", Condition::RefusedStream),
    ("retriable-status-codes", Condition::RetriableStatusCodes),
    ("cancelled", Condition::Cancelled),
    ("deadline-exceeded", Condition::DeadlineExceeded),
    ("resource-exhausted", Condition::ResourceExhausted),
    ("internal", Condition::Internal),
    ("unavailable", Condition::Unavailable),
];

const GRPC: [(Condition, u16); 5] = [
    (Condition::Cancelled, 1),
    (Condition::DeadlineExceeded, 4),
    (Condition::ResourceExhausted, 8),
    (Condition::Internal, 13),
    (Condition::Unavailable, 14),
];

/// A `retryOn` token we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown retryOn condition {token:?} (known: {}, or an HTTP status code 100-599)",
    known()
)]
pub struct UnknownRetryOn {
    /// The token as written.
    pub token: String,
}

fn known() -> String {
    CONDITIONS
        .iter()
        .map(|(t, _)| *t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// HTTP status codes 100–599 as a bit set: copied with the policy, no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct StatusSet([u64; 8]);

impl StatusSet {
    fn insert(&mut self, code: u16) {
        let i = usize::from(code - 100);
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, code: u16) -> bool {
        let Some(i) = code.checked_sub(100).map(usize::from).filter(|i| *i < 500) else {
            return false;
        };
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

impl RetryOn {
    /// Istio's conditions when a route sets `attempts` but no `retryOn`, and the mesh default:
    /// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with 503.
    pub fn mesh_default() -> Self {
        let mut on = Self::default();
        for c in [
            Condition::ConnectFailure,
            Condition::RefusedStream,
            Condition::Unavailable,
        ] {
            on = on.with(c);
        }
        on.with(Condition::Cancelled).with_status(503)
    }

    /// These conditions and `condition`.
    pub fn with(mut self, condition: Condition) -> Self {
        self.conditions |= 1 << condition as u16;
        self
    }

    /// These conditions and `retriable-status-codes` with `code` (100–599) added.
    pub fn with_status(mut self, code: u16) -> Self {
        if (100..600).contains(&code) {
            self.codes.insert(code);
        }
        self.with(Condition::RetriableStatusCodes)
    }

    /// Whether `condition` is on.
    pub fn has(&self, condition: Condition) -> bool {
        self.conditions & (1 << condition as u16) != 0
    }

    fn any(&self, conditions: &[Condition]) -> bool {
        conditions.iter().any(|c| self.has(*c))
    }
}

/// Envoy's fully jittered exponential backoff: before retry `n` (from 1) wait a random time in
/// `[0, (2ⁿ − 1) × base)`, never more than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The base interval (Istio's default: 25 ms).
    pub base: Duration,
    /// The longest wait (Envoy's default: 10 × base).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::from_base(Duration::from_millis(25))
    }
}

impl Backoff {
    /// A backoff with `base` and Envoy's cap of 10 × `base`.
    pub fn from_base(base: Duration) -> Self {
        Self {
            base,
            max: clock::times(base, 10),
        }
    }

    /// The wait before retry `retry` (1 for the first retry), for a jitter draw `unit` in [0, 1).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let multiplier = 2u32.saturating_pow(retry.min(31)).saturating_sub(1);
        let ceiling = clock::times(self.base, multiplier).min(self.max);
        clock::share(ceiling, unit)
    }
}

/// A route's retry policy, compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (Istio's `attempts`); 0 turns retries off.
    pub attempts: u32,
    /// The deadline of each try; `None`: only the route's timeout applies.
    pub per_try_timeout: Option<Duration>,
    /// The outcomes that are retried.
    pub retry_on: RetryOn,
    /// The wait between tries.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    /// Istio's mesh default, used when a route sets no `retries`.
    fn default() -> Self {
        Self::mesh_default()
    }
}

impl RetryPolicy {
    /// Istio's mesh default: 2 retries on `connect-failure,refused-stream,unavailable,cancelled,
    /// retriable-status-codes` with 503, no per-try timeout, 25 ms backoff.
    pub fn mesh_default() -> Self {
        Self::new(2, None, RetryOn::mesh_default())
    }

    /// No retries (`attempts: 0`).
    pub fn disabled() -> Self {
        Self::new(0, None, RetryOn::default())
    }

    /// `attempts` retries on `retry_on`, each try bounded by `per_try_timeout`, default backoff.
    pub fn new(attempts: u32, per_try_timeout: Option<Duration>, retry_on: RetryOn) -> Self {
        Self {
            attempts,
            per_try_timeout,
            retry_on,
            backoff: Backoff::default(),
        }
    }

    /// Parses a `retryOn` string: comma-separated Envoy tokens and bare status codes (which,
    /// as in Istio, turn on `retriable-status-codes` for that code).
    pub fn parse_retry_on(text: &str) -> Result<RetryOn, UnknownRetryOn> {
        let mut on = RetryOn::default();
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            on = parse_token(on, token)?;
        }
        Ok(on)
    }

    /// Whether a try that came to `outcome` is retried (attempts left permitting).
    pub fn should_retry(&self, outcome: &Outcome) -> bool {
        let on = &self.retry_on;
        let any_failure = [Condition::FiveXx, Condition::GatewayError, Condition::Reset];
        match outcome {
            Outcome::Failure(LocalFailure::ConnectFailure) => {
                on.any(&any_failure) || on.has(Condition::ConnectFailure)
            }
            Outcome::Failure(LocalFailure::RefusedStream) => {
                on.any(&any_failure) || on.has(Condition::RefusedStream)
            }
            Outcome::Failure(LocalFailure::Reset | LocalFailure::Timeout) => on.any(&any_failure),
            // As Envoy: a circuit breaker's overflow is answered at once.
            Outcome::Failure(LocalFailure::Overflow) => false,
            Outcome::Response {
                status,
                grpc_status,
            } => retries_status(on, outcome, status.as_u16()) || retries_grpc(on, *grpc_status),
        }
    }
}

fn parse_token(on: RetryOn, token: &str) -> Result<RetryOn, UnknownRetryOn> {
    if let Some((_, condition)) = CONDITIONS.iter().find(|(t, _)| *t == token) {
        return Ok(on.with(*condition));
    }
    match token.parse::<u16>() {
        Ok(code) if (100..600).contains(&code) => Ok(on.with_status(code)),
        _ => Err(UnknownRetryOn {
            token: token.to_string(),
        }),
    }
}

fn retries_status(on: &RetryOn, outcome: &Outcome, code: u16) -> bool {
    (on.has(Condition::FiveXx) && outcome.is_5xx())
        || (on.has(Condition::GatewayError) && outcome.is_gateway_error())
        || (on.has(Condition::Retriable4xx) && code == 409)
        || (on.has(Condition::RetriableStatusCodes) && on.codes.contains(code))
}

fn retries_grpc(on: &RetryOn, grpc_status: Option<u16>) -> bool {
    let Some(code) = grpc_status else {
        return false;
    };
    GRPC.iter()
        .any(|(condition, c)| *c == code && on.has(*condition))
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
