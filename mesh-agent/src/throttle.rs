//! Repeated warnings, throttled: a warning a pod can cause at will (a connect straight to
//! 15001, a connection past its cap) is logged at most once per interval, with how many were
//! left out since, so no pod can flood the agent's log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a throttled warning is logged at most, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one warning through per interval.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    suppressed: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::every(DEFAULT_INTERVAL)
    }
}

impl Throttle {
    /// At most one warning per `interval`.
    pub fn every(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::default(),
        }
    }

    /// Whether to log now: `Some(n)` with the `n` warnings left out since the last one logged.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().expect("not poisoned");
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            state.suppressed += 1;
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_with_the_count_left_out() {
        let throttle = Throttle::every(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(throttle.allow_at(start), Some(0));
        for s in 1..10 {
            assert_eq!(throttle.allow_at(start + Duration::from_secs(s)), None);
        }
        assert_eq!(throttle.allow_at(start + Duration::from_secs(10)), Some(9));
        assert_eq!(throttle.allow_at(start + Duration::from_secs(11)), None);
    }
}
