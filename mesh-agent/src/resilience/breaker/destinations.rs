//! Every destination's accounting on this node, kept per source pod as each pod's sidecar
//! would keep it: one [`DestinationPool`] per (source pod, destination), replaced when its
//! policy or protocol changes, so one pod's overload trips the breaker for itself and not for
//! the other pods of the node. Memory stays bounded: past [`DEFAULT_POOL_BOUND`] pools, the
//! idle ones (nothing in flight, no connection counted: the same as new) are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::limits::{Destination, DestinationPool, PoolStats};
use super::{ConnectionPoolPolicy, UpstreamProtocol};

/// Pools kept before idle ones are dropped.
pub const DEFAULT_POOL_BOUND: usize = 10_000;

/// A source pod (`namespace/pod`) and a destination.
type PoolKey = (Arc<str>, Destination);

/// The pools of every (source pod, destination) on this node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DestinationPools {
    pools: Arc<Mutex<HashMap<PoolKey, DestinationPool>>>,
    bound: usize,
}

impl Default for DestinationPools {
    fn default() -> Self {
        Self::with_bound(DEFAULT_POOL_BOUND)
    }
}

impl DestinationPools {
    /// About `bound` pools kept (more while more are in use).
    pub fn with_bound(bound: usize) -> Self {
        Self {
            pools: Arc::default(),
            bound,
        }
    }

    /// The accounting of `destination` for the requests of `source` (`namespace/pod`): the
    /// existing one while `policy` and `protocol` are unchanged, else a fresh one (requests in
    /// flight finish on the old one).
    pub fn pool(
        &self,
        source: &Arc<str>,
        destination: &Destination,
        policy: &ConnectionPoolPolicy,
        protocol: UpstreamProtocol,
    ) -> DestinationPool {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let key = (source.clone(), destination.clone());
        let current = pools
            .get(&key)
            .filter(|p| p.policy() == policy && p.protocol() == protocol);
        if let Some(pool) = current {
            return pool.clone();
        }
        if pools.len() >= self.bound {
            pools.retain(|_, pool| pool.stats() != PoolStats::default());
        }
        let pool = DestinationPool::of(destination.clone(), *policy, protocol);
        pools.insert(key, pool.clone());
        pool
    }

    /// The accounting of `destination` for the opaque TCP connections of `source`: the
    /// existing one, whatever protocol its requests use, while `policy` is unchanged.
    pub fn connections(
        &self,
        source: &Arc<str>,
        destination: &Destination,
        policy: &ConnectionPoolPolicy,
    ) -> DestinationPool {
        let protocol = {
            let pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
            let key = (source.clone(), destination.clone());
            pools
                .get(&key)
                .map_or(UpstreamProtocol::Http1, DestinationPool::protocol)
        };
        self.pool(source, destination, policy, protocol)
    }

    /// Forgets the destinations for which `keep` is false (gone from the snapshot).
    pub fn retain(&self, keep: impl Fn(&Destination) -> bool) {
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, d), _| keep(d));
    }

    /// How many pools are kept.
    pub fn len(&self) -> usize {
        self.pools.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_idle_pools_are_dropped_and_busy_ones_kept() {
        let pools = DestinationPools::with_bound(2);
        let policy = ConnectionPoolPolicy {
            max_connections: 1,
            ..Default::default()
        };
        let destination = Destination {
            host: "web.shop.svc.cluster.local".into(),
            subset: None,
        };
        let pool = |pod: &str| {
            let pod: Arc<str> = pod.into();
            pools.pool(&pod, &destination, &policy, UpstreamProtocol::Http1)
        };
        let busy = pool("shop/a").open_connection().unwrap();
        pool("shop/b");
        pool("shop/c");
        assert_eq!(pools.len(), 2, "b was idle: dropped; a is busy: kept");
        assert!(
            pool("shop/a").open_connection().is_err(),
            "a kept its count"
        );
        drop(busy);
    }
}
