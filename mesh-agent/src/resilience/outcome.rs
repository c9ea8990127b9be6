//! What one try against an upstream endpoint came to, as the retry policy and the outlier
//! detector see it: a response (HTTP status, gRPC status) or a local-origin failure.

use std::error::Error as StdError;
use std::io;

use http::{Response, StatusCode};

use super::breaker::Overflow;
use super::timeout::Timeout;
use crate::errors::{ConnectFailed, StreamRefused};

/// A failure that happened on our side of the upstream exchange (Envoy's "local origin").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalFailure {
    /// No connection could be made.
    ConnectFailure,
    /// The upstream refused the HTTP/2 stream.
    RefusedStream,
    /// The connection or stream broke before a response arrived.
    Reset,
    /// The per-try deadline passed before a response arrived.
    Timeout,
    /// The request never left: a connection limit of its destination was full (`UO`). Not
    /// the endpoint's doing, so neither retried nor held against it.
    Overflow,
}

/// The result of one try, reduced to what the policies decide on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered.
    Response {
        /// The HTTP status.
        status: StatusCode,
        /// The `grpc-status` header of a trailers-only gRPC response.
        grpc_status: Option<u16>,
    },
    /// No answer: a local-origin failure.
    Failure(LocalFailure),
}

impl Outcome {
    /// A plain HTTP answer with `status`.
    pub fn status(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Outcome::Response {
            status,
            grpc_status: None,
        }
    }

    /// The outcome of a try that produced `result`.
    pub fn of_result<B, E>(result: &Result<Response<B>, E>) -> Self
    where
        E: AsRef<dyn StdError + Send + Sync + 'static>,
    {
        match result {
            Ok(response) => Self::of_response(response),
            Err(error) => Outcome::Failure(LocalFailure::of_error(error.as_ref())),
        }
    }

    /// The outcome of a response: its status and, for gRPC, its `grpc-status` header.
    pub fn of_response<B>(response: &Response<B>) -> Self {
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Outcome::Response {
            status: response.status(),
            grpc_status,
        }
    }

    /// Any 5xx answer.
    pub fn is_5xx(&self) -> bool {
        matches!(self, Outcome::Response { status, .. } if status.is_server_error())
    }

    /// 502, 503 or 504: the answers Envoy and Istio call gateway errors.
    pub fn is_gateway_error(&self) -> bool {
        matches!(self, Outcome::Response { status, .. } if matches!(status.as_u16(), 502..=504))
    }
}

impl LocalFailure {
    /// Classifies an error by the first cause in its chain that says what happened; anything
    /// unrecognised counts as a reset.
    pub fn of_error(error: &(dyn StdError + 'static)) -> Self {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if let Some(known) = Self::of_cause(e) {
                return known;
            }
            cause = e.source();
        }
        LocalFailure::Reset
    }

    fn of_cause(e: &(dyn StdError + 'static)) -> Option<Self> {
        if e.is::<ConnectFailed>() {
            return Some(LocalFailure::ConnectFailure);
        }
        if e.is::<StreamRefused>() {
            return Some(LocalFailure::RefusedStream);
        }
        if e.is::<Timeout>() {
            return Some(LocalFailure::Timeout);
        }
        if e.is::<Overflow>() {
            return Some(LocalFailure::Overflow);
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return Self::of_h2(h2);
        }
        // hyper's "canceled": the request was dropped before it was ever written (its
        // connection closed, or went away, while it waited to be sent): never processed.
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return Some(LocalFailure::RefusedStream);
        }
        let io = e.downcast_ref::<io::Error>()?;
        // `io::Error::source` skips the error it wraps; look at it directly.
        if let Some(known) = io.get_ref().and_then(|inner| Self::of_cause(inner)) {
            return Some(known);
        }
        match io.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => Some(LocalFailure::ConnectFailure),
            io::ErrorKind::TimedOut => Some(LocalFailure::Timeout),
            _ => None,
        }
    }

    /// An HTTP/2 stream the upstream reset with `REFUSED_STREAM` was never processed (RFC 9113
    /// §8.7), nor was one past the last stream of a graceful GOAWAY (`NO_ERROR`: h2 fails only
    /// the streams above the last one the server processes, §6.8) — an agent draining its
    /// connections after a hand-over sends one — so `refused-stream` may retry both; any other
    /// h2 error is a reset.
    fn of_h2(error: &h2::Error) -> Option<Self> {
        let unprocessed_at_goaway = error.is_go_away() && error.is_remote();
        match error.reason() {
            Some(h2::Reason::REFUSED_STREAM) => Some(LocalFailure::RefusedStream),
            Some(h2::Reason::NO_ERROR) if unprocessed_at_goaway => {
                Some(LocalFailure::RefusedStream)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "outcome_wire_tests.rs"]
mod wire_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{BoxError, UpstreamReset};
    use crate::resilience::timeout::TimeoutScope;
    use std::time::Duration;

    fn classify(error: BoxError) -> LocalFailure {
        LocalFailure::of_error(error.as_ref())
    }

    #[test]
    fn errors_are_classified_through_their_chain() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let wrapped = io::Error::other(ConnectFailed(Box::new(io::Error::other("x"))));
        // As hyper hands an h2 reset on: inside its own error, inside ours.
        let refused_stream = UpstreamReset(Box::new(io::Error::other(h2::Error::from(
            h2::Reason::REFUSED_STREAM,
        ))));
        // A connect that timed out is a connect failure, not a request timeout.
        let connect_timeout = ConnectFailed(Box::new(io::Error::from(io::ErrorKind::TimedOut)));
        let overflow = io::Error::other(Overflow {
            limit: crate::resilience::breaker::PoolLimit::Connections,
            max: 1,
        });
        let cancelled_stream = io::Error::other(h2::Error::from(h2::Reason::CANCEL));
        let timeout = Timeout {
            scope: TimeoutScope::PerTry,
            after: Duration::from_secs(1),
        };
        let table: Vec<(BoxError, LocalFailure)> = vec![
            (Box::new(refused), LocalFailure::ConnectFailure),
            (Box::new(wrapped), LocalFailure::ConnectFailure),
            (Box::new(connect_timeout), LocalFailure::ConnectFailure),
            (Box::new(StreamRefused), LocalFailure::RefusedStream),
            (Box::new(refused_stream), LocalFailure::RefusedStream),
            (Box::new(cancelled_stream), LocalFailure::Reset),
            (Box::new(timeout), LocalFailure::Timeout),
            (
                Box::new(io::Error::from(io::ErrorKind::ConnectionReset)),
                LocalFailure::Reset,
            ),
            (Box::new(overflow), LocalFailure::Overflow),
            ("something else".into(), LocalFailure::Reset),
        ];
        for (error, want) in table {
            let shown = error.to_string();
            assert_eq!(classify(error), want, "{shown}");
        }
    }

    #[test]
    fn grpc_status_is_read_from_trailers_only_responses() {
        let response = Response::builder()
            .header("grpc-status", "14")
            .body(())
            .unwrap();
        let want = Outcome::Response {
            status: StatusCode::OK,
            grpc_status: Some(14),
        };
        assert_eq!(Outcome::of_response(&response), want);
    }

    #[test]
    fn gateway_errors_are_502_to_504() {
        for (status, five, gateway) in [
            (500, true, false),
            (502, true, true),
            (504, true, true),
            (404, false, false),
        ] {
            let outcome = Outcome::status(status);
            assert_eq!(
                (outcome.is_5xx(), outcome.is_gateway_error()),
                (five, gateway),
                "{status}"
            );
        }
    }
}
