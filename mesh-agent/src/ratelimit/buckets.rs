//! The node's token buckets, shared by every connection: one per patch, proxy instance (the
//! pod whose side it limits, as each sidecar has its own) and descriptor, of the shape
//! configured. A full bucket is the same as a new one, so once there are more than the
//! bound, full buckets are dropped: memory stays bounded by the buckets in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::token_bucket::{BucketShape, TokenBucket};
use crate::resources::local_rate_limit::DescriptorEntry;

/// How many buckets are kept before full ones are dropped.
pub const DEFAULT_BUCKET_BOUND: usize = 10_000;

/// Which bucket a request takes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// The patch whose configuration holds it (`namespace/name#i`).
    pub patch: Arc<str>,
    /// The proxy instance: `namespace/pod` of the workload whose side it limits.
    pub instance: Arc<str>,
    /// The descriptor it is for; empty for the default bucket.
    pub descriptor: Vec<DescriptorEntry>,
    /// Its numbers: a changed configuration starts a new bucket.
    pub shape: BucketShape,
}

/// Every bucket in use.
#[derive(Debug)]
pub struct Buckets {
    buckets: Mutex<HashMap<BucketKey, TokenBucket>>,
    bound: usize,
}

impl Default for Buckets {
    fn default() -> Self {
        Self::with_bound(DEFAULT_BUCKET_BOUND)
    }
}

impl Buckets {
    /// Keeps about `bound` buckets (more while more than that are in use).
    pub fn with_bound(bound: usize) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            bound,
        }
    }

    /// Takes a token from the bucket `key` names at `now`.
    pub fn try_take(&self, key: &BucketKey, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.try_take(now);
        }
        if buckets.len() >= self.bound {
            buckets.retain(|_, bucket| !bucket.is_full(now));
        }
        let mut bucket = TokenBucket::full(key.shape, now);
        let taken = bucket.try_take(now);
        buckets.insert(key.clone(), bucket);
        taken
    }

    /// How many buckets are kept.
    pub fn len(&self) -> usize {
        self.buckets.lock().expect("not poisoned").len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(instance: &str) -> BucketKey {
        BucketKey {
            patch: "default/f#0".into(),
            instance: instance.into(),
            descriptor: Vec::new(),
            shape: BucketShape {
                max_tokens: 1,
                tokens_per_fill: 1,
                fill_interval: Duration::from_secs(1),
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_instance_has_its_own_bucket() {
        let buckets = Buckets::default();
        assert!(buckets.try_take(&key("default/a"), Instant::now()));
        assert!(!buckets.try_take(&key("default/a"), Instant::now()));
        assert!(buckets.try_take(&key("default/b"), Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_bound_full_buckets_are_dropped_and_used_ones_kept() {
        let buckets = Buckets::with_bound(2);
        assert!(buckets.try_take(&key("a"), Instant::now()));
        assert!(buckets.try_take(&key("b"), Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(buckets.try_take(&key("c"), Instant::now()));
        assert_eq!(buckets.len(), 1, "a and b were full again");
        assert!(
            !buckets.try_take(&key("c"), Instant::now()),
            "c kept its count"
        );
    }
}
