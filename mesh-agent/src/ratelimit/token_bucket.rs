//! Envoy's token bucket: full at first (`max_tokens`), `tokens_per_fill` added every
//! `fill_interval` up to `max_tokens`, one token per request. Fills are counted when the
//! bucket is next used, on tokio's clock (paused in tests).

use std::time::Duration;

use tokio::time::Instant;

/// A bucket's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketShape {
    /// Tokens at most, and at first.
    pub max_tokens: u32,
    /// Tokens added per fill.
    pub tokens_per_fill: u32,
    /// Time between fills (validated: at least 50 ms).
    pub fill_interval: Duration,
}

/// One bucket's tokens.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    shape: BucketShape,
    tokens: u32,
    last_fill: Instant,
}

impl TokenBucket {
    /// A full bucket of `shape`, its fills counted from `now`.
    pub fn full(shape: BucketShape, now: Instant) -> Self {
        Self {
            shape,
            tokens: shape.max_tokens,
            last_fill: now,
        }
    }

    /// Takes one token at `now` if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.fill(now);
        match self.tokens {
            0 => false,
            _ => {
                self.tokens -= 1;
                true
            }
        }
    }

    /// Whether the bucket is full at `now`: then it is the same as a new one.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.fill(now);
        self.tokens >= self.shape.max_tokens
    }

    fn fill(&mut self, now: Instant) {
        let interval = self.shape.fill_interval.max(Duration::from_millis(1));
        let elapsed = now.saturating_duration_since(self.last_fill);
        let fills = elapsed.as_nanos() / interval.as_nanos();
        if fills == 0 {
            return;
        }
        let added = fills.saturating_mul(u128::from(self.shape.tokens_per_fill));
        let tokens = (u128::from(self.tokens) + added).min(u128::from(self.shape.max_tokens));
        self.tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
        let since = interval.saturating_mul(u32::try_from(fills).unwrap_or(u32::MAX));
        self.last_fill = self.last_fill.checked_add(since).unwrap_or(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(max: u32, per_fill: u32, interval_ms: u64) -> BucketShape {
        BucketShape {
            max_tokens: max,
            tokens_per_fill: per_fill,
            fill_interval: Duration::from_millis(interval_ms),
        }
    }

    fn taken(bucket: &mut TokenBucket, tries: usize) -> usize {
        (0..tries)
            .filter(|_| bucket.try_take(Instant::now()))
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_gives_max_tokens_then_refuses() {
        let mut bucket = TokenBucket::full(shape(4, 4, 60_000), Instant::now());
        assert_eq!(taken(&mut bucket, 10), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn each_fill_interval_adds_tokens_per_fill_up_to_max() {
        let mut bucket = TokenBucket::full(shape(10, 3, 1_000), Instant::now());
        assert_eq!(taken(&mut bucket, 20), 10);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(taken(&mut bucket, 5), 0, "no fill before the interval");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(taken(&mut bucket, 5), 3);
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert_eq!(taken(&mut bucket, 10), 6, "two whole intervals");
        tokio::time::advance(Duration::from_secs(3_600)).await;
        assert_eq!(taken(&mut bucket, 20), 10, "never above max_tokens");
    }

    #[tokio::test(start_paused = true)]
    async fn partial_intervals_carry_over() {
        let mut bucket = TokenBucket::full(shape(1, 1, 1_000), Instant::now());
        assert!(bucket.try_take(Instant::now()));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(!bucket.try_take(Instant::now()));
        tokio::time::advance(Duration::from_millis(400)).await;
        assert!(
            bucket.try_take(Instant::now()),
            "the fill is due 1 s after the first"
        );
        assert!(!bucket.is_full(Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(bucket.is_full(Instant::now()));
    }
}
