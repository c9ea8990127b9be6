//! The load generator's plain decisions: when to stop, when each request is due, and the
//! parsing of its command-line values.

use hyper::header::{HeaderName, HeaderValue};
use std::time::Duration;

/// How long a load runs when neither `--duration` nor `--requests` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// When the load stops: after a number of requests, after a duration, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    requests: Option<u64>,
    duration: Option<Duration>,
}

impl Budget {
    /// A budget from the options; with neither, [`DEFAULT_DURATION`].
    pub fn new(requests: Option<u64>, duration: Option<Duration>) -> Self {
        let duration = match (requests, duration) {
            (None, None) => Some(DEFAULT_DURATION),
            (_, d) => d,
        };
        Self { requests, duration }
    }

    /// Whether request number `slot` (from 0) may go out at `elapsed` since the start.
    pub fn allows(&self, slot: u64, elapsed: Duration) -> bool {
        self.requests.is_none_or(|n| slot < n) && self.duration.is_none_or(|d| elapsed < d)
    }
}

/// When request number `slot` is due at `rps` requests per second (0: at once).
pub fn send_offset(slot: u64, rps: f64) -> Duration {
    if rps > 0.0 {
        Duration::from_secs_f64(slot as f64 / rps)
    } else {
        Duration::ZERO
    }
}

/// Reads `10s`, `500ms`, `2m`, `1h` or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("not a duration: {text:?}"))
}

/// Reads a `NAME:VALUE` header.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or(format!("expected NAME:VALUE, got {text:?}"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("{name:?}: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("{value:?}: {e}"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets() {
        let s = Duration::from_secs;
        let cases = [
            (Budget::new(None, None), 1_000_000, s(9), true),
            (Budget::new(None, None), 0, s(10), false),
            (Budget::new(Some(3), None), 2, s(3600), true),
            (Budget::new(Some(3), None), 3, s(0), false),
            (Budget::new(None, Some(s(2))), 99, s(1), true),
            (Budget::new(None, Some(s(2))), 0, s(2), false),
            (Budget::new(Some(5), Some(s(2))), 5, s(0), false),
            (Budget::new(Some(5), Some(s(2))), 1, s(3), false),
        ];
        for (budget, slot, elapsed, want) in cases {
            assert_eq!(
                budget.allows(slot, elapsed),
                want,
                "{budget:?} slot {slot} at {elapsed:?}"
            );
        }
    }

    #[test]
    fn offsets() {
        let ms = Duration::from_millis;
        let cases = [
            (0, 0.0, ms(0)),
            (99, 0.0, ms(0)),
            (0, 10.0, ms(0)),
            (5, 10.0, ms(500)),
            (3, 2.0, ms(1500)),
        ];
        for (slot, rps, want) in cases {
            assert_eq!(send_offset(slot, rps), want, "slot {slot} at {rps} rps");
        }
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        let cases = [
            ("10s", Ok(ms(10_000))),
            ("500ms", Ok(ms(500))),
            ("2m", Ok(ms(120_000))),
            ("1h", Ok(ms(3_600_000))),
            ("1.5", Ok(ms(1500))),
            ("8", Ok(ms(8000))),
            ("", Err(())),
            ("s", Err(())),
            ("3d", Err(())),
            ("-1s", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn headers() {
        let (name, value) = parse_header("Host: reviews.default").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("host", "reviews.default")
        );
        let (name, value) = parse_header("x-user:jason").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-user", "jason")
        );
        assert!(parse_header("no-colon").is_err());
        assert!(parse_header("bad name:v").is_err());
    }
}
