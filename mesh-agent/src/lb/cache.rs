//! The balancers of the clusters in use, shared by every connection: built on first use and
//! rebuilt when a new snapshot brings a new version of the cluster (its ring with it; round
//! robin goes on where it was).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::ClusterBalancer;
use crate::chance::Chance;
use crate::snapshot::Cluster;

/// A balancer and the cluster version it was built from.
type Built = (Arc<Cluster>, Arc<ClusterBalancer>);

/// Balancer per cluster name, each tied to the cluster version it was built from.
#[derive(Debug, Default)]
pub struct Balancers {
    by_cluster: RwLock<HashMap<String, Built>>,
    chance: Chance,
}

impl Balancers {
    /// Balancers drawing from `chance`.
    pub fn new(chance: Chance) -> Self {
        Self {
            by_cluster: RwLock::default(),
            chance,
        }
    }

    /// The balancer of `cluster` as the snapshot in force has it.
    pub fn of(&self, cluster: &Arc<Cluster>) -> Arc<ClusterBalancer> {
        let cached = self.by_cluster.read().expect("not poisoned");
        let previous = match cached.get(&cluster.name) {
            Some((built_from, balancer)) if Arc::ptr_eq(built_from, cluster) => {
                return balancer.clone();
            }
            found => found.map(|(_, balancer)| balancer.clone()),
        };
        drop(cached);
        let mut balancer = ClusterBalancer::for_cluster(cluster, self.chance.clone());
        if let Some(previous) = previous {
            balancer = balancer.continue_from(&previous);
        }
        let balancer = Arc::new(balancer);
        let mut all = self.by_cluster.write().expect("not poisoned");
        all.insert(cluster.name.clone(), (cluster.clone(), balancer.clone()));
        balancer
    }
}
