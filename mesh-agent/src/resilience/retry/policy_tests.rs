//! Table tests of the retry decision.

use super::*;
use http::StatusCode;

fn grpc(code: u16) -> Outcome {
    Outcome::Response {
        status: StatusCode::OK,
        grpc_status: Some(code),
    }
}

const CONNECT: Outcome = Outcome::Failure(LocalFailure::ConnectFailure);
const REFUSED: Outcome = Outcome::Failure(LocalFailure::RefusedStream);
const RESET: Outcome = Outcome::Failure(LocalFailure::Reset);
const TIMEOUT: Outcome = Outcome::Failure(LocalFailure::Timeout);
const OVERFLOW: Outcome = Outcome::Failure(LocalFailure::Overflow);

fn policy(retry_on: &str) -> RetryPolicy {
    RetryPolicy::new(3, None, RetryPolicy::parse_retry_on(retry_on).unwrap())
}

#[test]
fn should_retry_follows_envoys_conditions() {
    let table: &[(&str, Outcome, bool)] = &[
        ("5xx", Outcome::status(500), true),
        ("5xx", Outcome::status(503), true),
        ("5xx", Outcome::status(404), false),
        ("5xx", Outcome::status(200), false),
        ("5xx", CONNECT, true),
        ("5xx", RESET, true),
        ("5xx", TIMEOUT, true),
        ("5xx", REFUSED, true),
        ("gateway-error", Outcome::status(500), false),
        ("gateway-error", Outcome::status(502), true),
        ("gateway-error", Outcome::status(504), true),
        ("gateway-error", TIMEOUT, true),
        ("reset", RESET, true),
        ("reset", TIMEOUT, true),
        ("reset", Outcome::status(503), false),
        ("connect-failure", CONNECT, true),
        ("connect-failure", RESET, false),
        ("connect-failure", Outcome::status(503), false),
        ("refused-stream", REFUSED, true),
        ("refused-stream", CONNECT, false),
        ("retriable-4xx", Outcome::status(409), true),
        ("retriable-4xx", Outcome::status(404), false),
        ("retriable-status-codes", Outcome::status(503), false),
        ("retriable-status-codes,418", Outcome::status(418), true),
        ("418", Outcome::status(418), true),
        ("418", Outcome::status(419), false),
        ("cancelled", grpc(1), true),
        ("deadline-exceeded", grpc(4), true),
        ("resource-exhausted", grpc(8), true),
        ("internal", grpc(13), true),
        ("unavailable", grpc(14), true),
        ("unavailable", grpc(13), false),
        ("unavailable", grpc(0), false),
        ("5xx", grpc(14), false),
        ("", Outcome::status(503), false),
        ("", CONNECT, false),
        ("5xx,reset,connect-failure,refused-stream", OVERFLOW, false),
    ];
    for (retry_on, outcome, want) in table {
        let got = policy(retry_on).should_retry(outcome);
        assert_eq!(got, *want, "retryOn {retry_on:?} on {outcome:?}");
    }
}

#[test]
fn the_mesh_default_retries_503_but_not_500() {
    let default = RetryPolicy::mesh_default();
    assert_eq!(default.attempts, 2);
    let table = [
        (Outcome::status(503), true),
        (Outcome::status(500), false),
        (Outcome::status(502), false),
        (CONNECT, true),
        (REFUSED, true),
        (RESET, false),
        (TIMEOUT, false),
        (grpc(14), true),
        (grpc(1), true),
        (grpc(13), false),
    ];
    for (outcome, want) in table {
        assert_eq!(default.should_retry(&outcome), want, "{outcome:?}");
    }
    let spelled = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes,503";
    assert_eq!(
        RetryPolicy::parse_retry_on(spelled).unwrap(),
        RetryOn::mesh_default()
    );
}

#[test]
fn parse_retry_on_names_the_unknown_token() {
    let table = [
        ("5xx,bogus", "bogus"),
        ("5xx, gateway_error", "gateway_error"),
        ("600", "600"),
        ("99", "99"),
        ("5XX", "5XX"),
    ];
    for (text, token) in table {
        let error = RetryPolicy::parse_retry_on(text).unwrap_err();
        assert_eq!(error.token, token);
        let message = error.to_string();
        assert!(
            message.contains(&format!("{token:?}")) && message.contains("gateway-error"),
            "{message}"
        );
    }
    let spaced = RetryPolicy::parse_retry_on(" 5xx , reset ,").unwrap();
    assert!(spaced.has(Condition::FiveXx) && spaced.has(Condition::Reset));
}

#[test]
fn backoff_is_fully_jittered_exponential_and_capped() {
    let backoff = Backoff::default();
    let ms = Duration::from_millis;
    let table = [
        (1, 0.0, ms(0)),
        (1, 0.5, Duration::from_micros(12_500)),
        (2, 0.5, Duration::from_micros(37_500)),
        (3, 0.5, Duration::from_micros(87_500)),
        (4, 0.99, ms(250).mul_f64(0.99)),
        (30, 0.5, ms(125)),
        (u32::MAX, 0.999, ms(250).mul_f64(0.999)),
    ];
    for (retry, unit, want) in table {
        let got = backoff.delay(retry, unit);
        let close = got.abs_diff(want) < Duration::from_micros(1);
        assert!(close, "retry {retry} unit {unit}: {got:?}, want {want:?}");
    }
    assert_eq!(backoff.base, ms(25));
}
