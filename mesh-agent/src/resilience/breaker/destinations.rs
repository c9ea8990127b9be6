//! Every destination's accounting on this node, shared by all the pods it serves: one
//! [`DestinationPool`] per destination, replaced when its policy or protocol changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::limits::{Destination, DestinationPool};
use super::{ConnectionPoolPolicy, UpstreamProtocol};

/// Every destination's accounting on this node, shared by all the pods it serves.
#[derive(Clone, Debug, Default)]
pub struct DestinationPools {
    pools: Arc<Mutex<HashMap<Destination, DestinationPool>>>,
}

impl DestinationPools {
    /// The accounting of `destination`: the existing one while `policy` and `protocol` are
    /// unchanged, else a fresh one (requests in flight finish on the old one).
    pub fn pool(
        &self,
        destination: &Destination,
        policy: &ConnectionPoolPolicy,
        protocol: UpstreamProtocol,
    ) -> DestinationPool {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let current = pools
            .get(destination)
            .filter(|p| p.policy() == policy && p.protocol() == protocol);
        if let Some(pool) = current {
            return pool.clone();
        }
        let pool = DestinationPool::of(destination.clone(), *policy, protocol);
        pools.insert(destination.clone(), pool.clone());
        pool
    }

    /// The accounting of `destination` for opaque TCP connections: the existing one, whatever
    /// protocol its requests use, while `policy` is unchanged.
    pub fn connections(
        &self,
        destination: &Destination,
        policy: &ConnectionPoolPolicy,
    ) -> DestinationPool {
        let protocol = {
            let pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
            pools
                .get(destination)
                .map_or(UpstreamProtocol::Http1, DestinationPool::protocol)
        };
        self.pool(destination, policy, protocol)
    }

    /// Forgets the destinations for which `keep` is false (gone from the snapshot).
    pub fn retain(&self, keep: impl Fn(&Destination) -> bool) {
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|d, _| keep(d));
    }
}
