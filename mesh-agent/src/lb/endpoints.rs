//! A cluster's endpoints as the balancers see them: those known by IP (DNS ones are resolved
//! elsewhere), with their weights and localities, in the cluster's order.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::snapshot::{Address, Cluster};

/// The endpoints of `cluster` known by IP (DNS ones are resolved elsewhere), in its order.
pub fn ip_endpoints(cluster: &Cluster) -> Vec<SocketAddr> {
    let ip = |(address, port): &(Address, u16)| match address {
        Address::Ip(ip) => Some(SocketAddr::new(*ip, *port)),
        Address::Dns(_) => None,
    };
    cluster.endpoints.iter().filter_map(ip).collect()
}

/// The endpoints of `cluster` known by IP, their weights (empty when even) and localities
/// (empty when none is known), in its order.
pub fn ip_weighted_endpoints(cluster: &Cluster) -> (Vec<SocketAddr>, Vec<u32>, Vec<Arc<str>>) {
    let ip = |(address, port): &(Address, u16)| match address {
        Address::Ip(ip) => Some(SocketAddr::new(*ip, *port)),
        Address::Dns(_) => None,
    };
    let (mut endpoints, mut weights, mut localities) = (Vec::new(), Vec::new(), Vec::new());
    for (index, endpoint) in cluster.endpoints.iter().enumerate() {
        let Some(address) = ip(endpoint) else {
            continue;
        };
        endpoints.push(address);
        weights.extend(cluster.weights.get(index).copied());
        localities.extend(cluster.localities.get(index).cloned());
    }
    (endpoints, weights, localities)
}
