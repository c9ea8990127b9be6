//! The balancers of the clusters in use, shared by every connection: built on first use,
//! rebuilt when a new snapshot brings a new version of the cluster (its ring with it; round
//! robin goes on where it was), forgotten when a snapshot no longer has the cluster; built for
//! the agent's own locality (`--locality`), which locality-aware balancing compares with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::locality::Locality;
use super::ClusterBalancer;
use crate::chance::Chance;
use crate::pipeline::ConfigState;
use crate::snapshot::{Cluster, Snapshot};

/// A balancer and the cluster version it was built from.
type Built = (Arc<Cluster>, Arc<ClusterBalancer>);

/// Balancer per cluster name, each tied to the cluster version it was built from.
#[derive(Debug, Default)]
pub struct Balancers {
    by_cluster: RwLock<HashMap<String, Built>>,
    chance: Chance,
    /// Where the agent's node runs (`None`: unknown).
    own: Option<Locality>,
}

impl Balancers {
    /// Balancers drawing from `chance`.
    pub fn new(chance: Chance) -> Self {
        Self {
            by_cluster: RwLock::default(),
            chance,
            own: None,
        }
    }

    /// Balancers for clients at locality `own`.
    pub fn at_locality(self, own: Option<Locality>) -> Self {
        Self { own, ..self }
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
        let mut balancer =
            ClusterBalancer::for_cluster(cluster, self.chance.clone(), self.own.as_ref());
        if let Some(previous) = previous {
            balancer = balancer.continue_from(&previous);
        }
        let balancer = Arc::new(balancer);
        let mut all = self.by_cluster.write().expect("not poisoned");
        all.insert(cluster.name.clone(), (cluster.clone(), balancer.clone()));
        balancer
    }

    /// How many clusters have a balancer now.
    pub fn cluster_count(&self) -> usize {
        self.by_cluster.read().expect("not poisoned").len()
    }

    /// Forgets the balancers (and the cluster versions they hold) of clusters `snapshot` no
    /// longer has: a reload removed their Service, DestinationRule subset or port.
    pub fn retain(&self, snapshot: &Snapshot) {
        let mut all = self.by_cluster.write().expect("not poisoned");
        all.retain(|name, _| snapshot.has_cluster(name));
    }

    /// Keeps to the clusters of every snapshot `config` swaps in, for as long as the task runs.
    pub async fn follow(self: Arc<Self>, config: ConfigState) {
        let mut swaps = config.swaps();
        while swaps.changed().await.is_ok() {
            self.retain(&config.snapshot());
        }
    }
}
