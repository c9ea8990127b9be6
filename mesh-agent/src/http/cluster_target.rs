//! A cluster as the balancer layer sees it: the cluster's
//! [`ClusterBalancer`](crate::lb::ClusterBalancer) from the shared [`Balancers`] (round robin
//! when it sets no `loadBalancer`), asked with the request's headers and the client's address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::Request;

use super::body::Body;
use super::target::Balancer;
use crate::lb::{Balancers, Pick, PickInput};
use crate::snapshot::Cluster;

/// Picks among one cluster's endpoints for one connection's requests.
pub struct ClusterTarget {
    /// The cluster (none: no endpoint to pick).
    pub cluster: Option<Arc<Cluster>>,
    pub balancers: Arc<Balancers>,
    /// The client's address, for `useSourceIp`.
    pub source_ip: Option<IpAddr>,
    /// What the client dialled, for PASSTHROUGH.
    pub original_dst: Option<SocketAddr>,
}

impl Balancer for ClusterTarget {
    fn pick(&self, request: &Request<Body>) -> Option<SocketAddr> {
        self.pick_for(request).map(|p| p.endpoint)
    }

    fn pick_for(&self, request: &Request<Body>) -> Option<Pick> {
        let cluster = self.cluster.as_ref()?;
        let input = PickInput {
            headers: request.headers(),
            uri: request.uri(),
            source_ip: self.source_ip,
            original_dst: self.original_dst,
        };
        self.balancers.of(cluster).pick(&input)
    }

    fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    fn closest(&self, eligible: Vec<SocketAddr>) -> Vec<SocketAddr> {
        match &self.cluster {
            // No endpoint with a locality: no priorities, and no balancer lookup per request.
            Some(cluster) if !cluster.localities.is_empty() => {
                self.balancers.of(cluster).closest(eligible)
            }
            _ => eligible,
        }
    }
}
