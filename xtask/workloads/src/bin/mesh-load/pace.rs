//! When connections send: the measured window (after the warmup) and, with `--rate`, a fixed
//! schedule shared out over the connections (open-loop-ish: the pace does not follow the
//! answers, but each connection still has one request in flight at most).

use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// A connection this far behind its schedule starts afresh instead of bursting to catch up.
const MAX_LAG: Duration = Duration::from_millis(100);

/// When a connection measures: from the end of the warmup to the end of the run.
#[derive(Clone, Copy)]
pub struct Window {
    pub from: Instant,
    pub until: Instant,
}

impl Window {
    /// The window after `warmup`, `duration` long, starting now.
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let from = Instant::now() + warmup;
        Window {
            from,
            until: from + duration,
        }
    }

    /// Whether the run is still going.
    pub fn open(&self) -> bool {
        Instant::now() < self.until
    }

    /// Whether a request that ran from `began` to `done` counts.
    pub fn counts(&self, began: Instant, done: Instant) -> bool {
        began >= self.from && done <= self.until
    }
}

/// One connection's send schedule: every `period` with a rate, else back to back.
pub struct Pace {
    period: Option<Duration>,
    next: Instant,
}

impl Pace {
    /// Connection `index` of `connections` sharing `rate` requests/s in total; the
    /// connections' schedules are staggered over one period.
    pub fn new(rate: Option<f64>, connections: u32, index: u32) -> Pace {
        let period = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(f64::from(connections.max(1)) / r));
        let offset = period.map_or(Duration::ZERO, |p| {
            p.mul_f64(f64::from(index) / f64::from(connections.max(1)))
        });
        Pace {
            period,
            next: Instant::now() + offset,
        }
    }

    /// Waits for this connection's next turn (at once without a rate).
    pub async fn wait(&mut self) {
        let Some(period) = self.period else { return };
        let now = Instant::now();
        if self.next > now {
            sleep_until(self.next).await;
        } else if now - self.next > MAX_LAG {
            self.next = now;
        }
        self.next += period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_a_connections_turns_by_connections_over_rate() {
        let mut pace = Pace::new(Some(1000.0), 2, 0);
        let start = Instant::now();
        for _ in 0..5 {
            pace.wait().await;
        }
        // Turns at 0, 2, 4, 6 and 8 ms: two connections share 1,000 requests/s.
        assert_eq!(Instant::now() - start, Duration::from_millis(8));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_rate_turns_come_at_once() {
        let mut pace = Pace::new(None, 4, 3);
        let start = Instant::now();
        pace.wait().await;
        pace.wait().await;
        assert_eq!(Instant::now(), start);
    }
}
