//! Deadlines from configured durations that never overflow: a duration as long as validation
//! allows (Go's ~292 years) or longer meets the clock without a panic, as `tokio::time::sleep`
//! does — past what an `Instant` holds, the deadline is a far future that never comes in practice.

use std::time::Duration;

use tokio::time::Instant;

/// About 30 years: the far future `tokio::time::sleep` falls back to.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `start + after`, or a far future when that cannot be represented.
pub fn deadline(start: Instant, after: Duration) -> Instant {
    start
        .checked_add(after)
        .unwrap_or_else(|| start + FAR_FUTURE)
}

/// `duration × times`, saturating at `Duration::MAX`.
pub fn times(duration: Duration, times: u32) -> Duration {
    duration.saturating_mul(times)
}

/// `duration × factor` for a factor in [0, 1] (a jitter draw); a factor outside it (or NaN) is
/// taken as its nearest end (NaN as 0).
pub fn share(duration: Duration, factor: f64) -> Duration {
    let factor = if factor.is_nan() {
        0.0
    } else {
        factor.clamp(0.0, 1.0)
    };
    // Not `mul_f64`: `Duration::MAX × 1.0` rounds past `Duration::MAX` in f64 and panics.
    let scaled = Duration::try_from_secs_f64(duration.as_secs_f64() * factor);
    scaled.unwrap_or(duration).min(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest duration validation lets through (Go's `time.Duration`: i64 nanoseconds).
    const GO_MAX: Duration = Duration::from_nanos(i64::MAX as u64);

    #[test]
    fn a_deadline_is_exact_while_representable_and_far_beyond_it() {
        let now = Instant::now();
        for after in [Duration::ZERO, Duration::from_secs(1), GO_MAX] {
            assert_eq!(deadline(now, after) - now, after, "{after:?}");
        }
        for after in [Duration::MAX, Duration::from_secs(i64::MAX as u64)] {
            assert!(deadline(now, after) - now >= FAR_FUTURE, "{after:?}");
        }
    }

    #[test]
    fn multiples_saturate() {
        let table = [
            (GO_MAX, 3, GO_MAX * 3),
            (GO_MAX, u32::MAX, Duration::MAX),
            (Duration::MAX, 2, Duration::MAX),
            (Duration::from_secs(30), 0, Duration::ZERO),
        ];
        for (duration, n, want) in table {
            assert_eq!(times(duration, n), want, "{duration:?} × {n}");
        }
    }

    #[test]
    fn shares_stay_within_the_duration() {
        let table = [
            (Duration::MAX, 1.0, Duration::MAX),
            (Duration::MAX, 2.0, Duration::MAX),
            (GO_MAX, 0.5, GO_MAX / 2),
            (GO_MAX, -1.0, Duration::ZERO),
            (GO_MAX, f64::NAN, Duration::ZERO),
            (GO_MAX, f64::INFINITY, GO_MAX),
        ];
        for (duration, factor, want) in table {
            let got = share(duration, factor);
            let diff = got.abs_diff(want);
            assert!(
                diff <= Duration::from_micros(1),
                "{duration:?} × {factor}: {got:?}"
            );
        }
    }
}
