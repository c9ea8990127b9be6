//! LEAST_REQUEST by the power of two choices: draw two distinct endpoints, send to the one
//! with fewer requests in flight. Each pick holds an [`InFlight`] guard until the exchange ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Requests in flight, per endpoint of one cluster.
#[derive(Debug)]
pub struct Loads(Arc<[AtomicUsize]>);

impl Loads {
    /// Zero for each of `count` endpoints.
    pub fn new(count: usize) -> Self {
        Self((0..count).map(|_| AtomicUsize::new(0)).collect())
    }

    /// In flight at endpoint `index`.
    pub fn of(&self, index: usize) -> usize {
        self.0[index].load(Ordering::Relaxed)
    }

    /// Counts one more request at `index` until the guard drops.
    pub fn start(&self, index: usize) -> InFlight {
        self.0[index].fetch_add(1, Ordering::Relaxed);
        InFlight {
            loads: self.0.clone(),
            index,
        }
    }
}

/// One request in flight at an endpoint; the count goes down when it drops.
#[derive(Debug)]
pub struct InFlight {
    loads: Arc<[AtomicUsize]>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.loads[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}

/// The two candidates for draws `first` (in `0..count`) and `second` (in `0..count - 1`):
/// distinct whenever there are two endpoints or more.
pub fn candidates(count: usize, first: usize, second: usize) -> (usize, usize) {
    match count {
        0 | 1 => (0, 0),
        _ => (first, (first + 1 + second) % count),
    }
}

/// The less loaded of `a` and `b` (`a` on a tie).
pub fn less_loaded(loads: &Loads, a: usize, b: usize) -> usize {
    match loads.of(b) < loads.of(a) {
        true => b,
        false => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_distinct() {
        for count in 2..6 {
            for first in 0..count {
                for second in 0..count - 1 {
                    let (a, b) = candidates(count, first, second);
                    assert!(a != b && a < count && b < count, "{count} {first} {second}");
                }
            }
        }
        assert_eq!(candidates(1, 0, 0), (0, 0));
    }

    #[test]
    fn the_idle_endpoint_wins_and_guards_give_back_their_load() {
        let loads = Loads::new(2);
        let busy = loads.start(0);
        assert_eq!(less_loaded(&loads, 0, 1), 1);
        assert_eq!(less_loaded(&loads, 1, 0), 1);
        drop(busy);
        assert_eq!(loads.of(0), 0);
        assert_eq!(less_loaded(&loads, 0, 1), 0);
    }
}
