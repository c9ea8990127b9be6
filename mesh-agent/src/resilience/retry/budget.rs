//! DestinationRule `connectionPool.http.maxRetries`: a cap on the retries outstanding to one
//! destination (host + subset) at a time, shared by every request the node sends there.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The retry allowance of one destination. Clones share the count; put one in the request
/// extensions (or give it to the layer) to cap that destination's retries.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max: u32,
    active: AtomicU32,
}

/// One outstanding retry; dropping it gives the allowance back.
#[derive(Debug)]
pub struct RetryPermit {
    shared: Arc<Shared>,
}

impl RetryBudget {
    /// A budget of `max_retries` concurrent retries (Istio's default is 2³² − 1: no cap).
    pub fn new(max_retries: u32) -> Self {
        Self {
            shared: Arc::new(Shared {
                max: max_retries,
                active: AtomicU32::new(0),
            }),
        }
    }

    /// A permit for one retry, or `None` when `max_retries` are already outstanding.
    pub fn try_acquire(&self) -> Option<RetryPermit> {
        let shared = &self.shared;
        let admit = |active: u32| (active < shared.max).then_some(active + 1);
        shared
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, admit)
            .ok()?;
        Some(RetryPermit {
            shared: shared.clone(),
        })
    }

    /// Retries outstanding now.
    pub fn active(&self) -> u32 {
        self.shared.active.load(Ordering::Acquire)
    }

    /// The cap.
    pub fn max(&self) -> u32 {
        self.shared.max
    }
}

impl Drop for RetryPermit {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_capped_and_returned_on_drop() {
        let budget = RetryBudget::new(2);
        let first = budget.try_acquire().expect("first");
        let second = budget
            .clone()
            .try_acquire()
            .expect("second, through a clone");
        assert!(budget.try_acquire().is_none(), "a third exceeds maxRetries");
        drop(first);
        let third = budget.try_acquire().expect("room again");
        assert_eq!(budget.active(), 2);
        drop((second, third));
        assert_eq!(budget.active(), 0);
    }

    #[test]
    fn zero_allows_no_retry() {
        assert!(RetryBudget::new(0).try_acquire().is_none());
    }
}
