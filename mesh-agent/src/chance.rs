//! Where the request path's randomness comes from: one seedable source shared by weighted
//! destinations, fault and mirror percentages and random load balancing, so that tests can
//! replay a sequence of draws.

use std::sync::{Arc, Mutex};

/// A shared random source.
#[derive(Clone)]
pub struct Chance(Arc<Mutex<fastrand::Rng>>);

impl Chance {
    /// Seeded from the OS.
    pub fn new() -> Self {
        Self::from_rng(fastrand::Rng::new())
    }

    /// The same draws every run.
    pub fn seeded(seed: u64) -> Self {
        Self::from_rng(fastrand::Rng::with_seed(seed))
    }

    fn from_rng(rng: fastrand::Rng) -> Self {
        Self(Arc::new(Mutex::new(rng)))
    }

    /// A draw in `0..bound` (`0` when `bound` is 0).
    pub fn below(&self, bound: u32) -> u32 {
        match bound {
            0 => 0,
            _ => self.0.lock().expect("not poisoned").u32(0..bound),
        }
    }

    /// A draw in `[0, 100)`, to compare with a percentage.
    pub fn percent(&self) -> f64 {
        self.0.lock().expect("not poisoned").f64() * 100.0
    }

    /// Whether a request falls in `percentage` (0–100) of requests.
    pub fn hits(&self, percentage: f64) -> bool {
        percentage >= 100.0 || (percentage > 0.0 && self.percent() < percentage)
    }
}

impl Default for Chance {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Chance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chance")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edges_of_a_percentage_need_no_draw() {
        let chance = Chance::seeded(1);
        assert!(chance.hits(100.0));
        assert!(!chance.hits(0.0));
        assert_eq!(chance.below(0), 0);
    }

    #[test]
    fn a_seed_replays_the_same_draws() {
        let (a, b) = (Chance::seeded(9), Chance::seeded(9));
        let draws = |c: &Chance| (0..5).map(|_| c.below(100)).collect::<Vec<_>>();
        assert_eq!(draws(&a), draws(&b));
    }
}
