//! `--fail-rate`: the fraction of requests the service fails on purpose, and its random draw.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether a request fails, given the configured rate and a uniform draw in `[0, 1)`.
pub fn fails(rate: f64, draw: f64) -> bool {
    draw < rate
}

/// The injected failures: a rate, the status they answer with, and a lock-free random source.
pub struct FailurePlan {
    rate: f64,
    /// The status failed requests answer with (`--fail-status`).
    pub status: u16,
    state: AtomicU64,
}

impl FailurePlan {
    /// A plan failing `rate` (clamped to `0.0..=1.0`) of the requests with `status`.
    pub fn new(rate: f64, status: u16) -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        Self {
            rate: rate.clamp(0.0, 1.0),
            status,
            state: AtomicU64::new(seed),
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Draws once and says whether this request fails.
    pub fn next_fails(&self) -> bool {
        self.rate > 0.0 && fails(self.rate, self.draw())
    }

    /// A uniform draw in `[0, 1)` (splitmix64: a shared counter, then a mix).
    fn draw(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_decides() {
        let cases = [
            (0.0, 0.0, false),
            (0.0, 0.5, false),
            (1.0, 0.0, true),
            (1.0, 0.999_999, true),
            (0.25, 0.1, true),
            (0.25, 0.25, false),
            (0.25, 0.9, false),
        ];
        for (rate, draw, want) in cases {
            assert_eq!(fails(rate, draw), want, "rate {rate} draw {draw}");
        }
    }

    #[test]
    fn extreme_rates_are_exact() {
        let never = FailurePlan::new(0.0, 503);
        let always = FailurePlan::new(1.0, 503);
        assert!((0..1000).all(|_| !never.next_fails()));
        assert!((0..1000).all(|_| always.next_fails()));
        assert_eq!(FailurePlan::new(7.0, 500).rate(), 1.0);
    }

    #[test]
    fn draws_spread_over_the_unit_interval() {
        let plan = FailurePlan::new(0.5, 503);
        let draws: Vec<f64> = (0..10_000).map(|_| plan.draw()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((4_000..6_000).contains(&low), "{low} of 10000 below 0.5");
    }
}
