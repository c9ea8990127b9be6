//! Round-robin positions per cluster, kept apart from the immutable snapshot so that a reload
//! does not send every client back to the first endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::snapshot::{Address, Cluster, Snapshot};

/// One counter per cluster name (`outbound|PORT|SUBSET|HOST`).
#[derive(Debug, Default)]
pub struct RoundRobin {
    positions: RwLock<HashMap<String, Arc<AtomicUsize>>>,
}

impl RoundRobin {
    /// The next IP endpoint (address and target port) of `cluster`; `None` when it has none.
    /// Endpoints known only by DNS name are skipped.
    pub fn pick(&self, cluster: &Cluster) -> Option<SocketAddr> {
        let ips = || {
            cluster
                .endpoints
                .iter()
                .filter_map(|(address, port)| match address {
                    Address::Ip(ip) => Some(SocketAddr::new(*ip, *port)),
                    Address::Dns(_) => None,
                })
        };
        let count = ips().count();
        if count == 0 {
            return None;
        }
        let n = self.position(&cluster.name).fetch_add(1, Ordering::Relaxed);
        ips().nth(n % count)
    }

    /// Forgets the clusters `snapshot` no longer has.
    pub fn retain(&self, snapshot: &Snapshot) {
        let mut positions = self.positions.write().expect("not poisoned");
        positions.retain(|name, _| snapshot.has_cluster(name));
    }

    fn position(&self, cluster: &str) -> Arc<AtomicUsize> {
        if let Some(found) = self.positions.read().expect("not poisoned").get(cluster) {
            return found.clone();
        }
        let mut positions = self.positions.write().expect("not poisoned");
        positions.entry(cluster.to_string()).or_default().clone()
    }
}
