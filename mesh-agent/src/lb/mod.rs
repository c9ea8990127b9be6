//! Load balancing of one cluster (DestinationRule `trafficPolicy.loadBalancer`, already merged
//! per subset and port by the snapshot): ROUND_ROBIN, LEAST_REQUEST (power of two choices over
//! in-flight counts), RANDOM, PASSTHROUGH (the address the client dialled) and consistent hash
//! on a header, cookie, source IP or query parameter. A [`ClusterBalancer`] is built once per
//! cluster per snapshot (the hash ring with it) and picks synchronously.

mod allowed;
pub mod cache;
pub mod hash_key;
pub mod least_request;
pub mod ring;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::header::HeaderValue;
use hyper::{HeaderMap, Uri};

use crate::chance::Chance;
use crate::resources::{LoadBalancer, SimpleLb};
use crate::snapshot::{Address, Cluster};
use hash_key::HashKey;
use least_request::{InFlight, Loads};
use ring::Ring;

pub use allowed::{for_connection, pick_within};
pub use cache::Balancers;

/// What a pick may look at.
#[derive(Clone, Copy, Debug)]
pub struct PickInput<'a> {
    pub headers: &'a HeaderMap,
    pub uri: &'a Uri,
    /// The client's address.
    pub source_ip: Option<IpAddr>,
    /// What the client dialled (for PASSTHROUGH).
    pub original_dst: Option<SocketAddr>,
}

/// The endpoint chosen for a request, in its extensions for the layers below the balancer
/// (outlier report, pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint(pub SocketAddr);

/// The endpoint for one request.
#[derive(Debug)]
pub struct Pick {
    pub endpoint: SocketAddr,
    /// Held until the exchange ends (LEAST_REQUEST counts requests in flight).
    pub in_flight: Option<InFlight>,
    /// A `Set-Cookie` for the response (a consistent-hash cookie was made up).
    pub set_cookie: Option<HeaderValue>,
}

impl Pick {
    /// Just `endpoint`.
    pub fn at(endpoint: SocketAddr) -> Self {
        Self {
            endpoint,
            in_flight: None,
            set_cookie: None,
        }
    }
}

/// How a cluster picks.
#[derive(Debug)]
enum Algorithm {
    RoundRobin(AtomicUsize),
    LeastRequest(Loads),
    Random,
    Passthrough,
    ConsistentHash(HashKey, Ring),
}

/// The balancer of one cluster: its endpoints and the algorithm's state.
#[derive(Debug)]
pub struct ClusterBalancer {
    endpoints: Vec<SocketAddr>,
    algorithm: Algorithm,
    chance: Chance,
}

impl ClusterBalancer {
    /// The balancer of `cluster` (endpoints known by IP; DNS ones are resolved elsewhere).
    pub fn for_cluster(cluster: &Cluster, chance: Chance) -> Self {
        let lb = cluster.policy.load_balancer.as_ref();
        Self::new(ip_endpoints(cluster), lb, chance)
    }

    /// Round robin goes on from where `previous` (the same cluster's balancer before a reload)
    /// was, so a reload does not send every client back to the first endpoint.
    pub fn continue_from(self, previous: &ClusterBalancer) -> Self {
        if let (Algorithm::RoundRobin(next), Algorithm::RoundRobin(was)) =
            (&self.algorithm, &previous.algorithm)
        {
            next.store(was.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self
    }

    /// A balancer over `endpoints` with the `lb` settings (none: round robin).
    pub fn new(endpoints: Vec<SocketAddr>, lb: Option<&LoadBalancer>, chance: Chance) -> Self {
        let algorithm = algorithm(&endpoints, lb);
        Self {
            endpoints,
            algorithm,
            chance,
        }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[SocketAddr] {
        &self.endpoints
    }

    /// The endpoint for a request; `None` when the cluster has none.
    pub fn pick(&self, input: &PickInput<'_>) -> Option<Pick> {
        if let Algorithm::Passthrough = self.algorithm {
            return input.original_dst.map(Pick::at);
        }
        if self.endpoints.is_empty() {
            return None;
        }
        let count = self.endpoints.len();
        let at = |index: usize| Pick::at(self.endpoints[index]);
        match &self.algorithm {
            Algorithm::RoundRobin(next) => Some(at(next.fetch_add(1, Ordering::Relaxed) % count)),
            Algorithm::Random | Algorithm::Passthrough => Some(at(self.random(count))),
            Algorithm::LeastRequest(loads) => {
                let (a, b) =
                    least_request::candidates(count, self.random(count), self.random(count - 1));
                let index = least_request::less_loaded(loads, a, b);
                let mut pick = at(index);
                pick.in_flight = Some(loads.start(index));
                Some(pick)
            }
            Algorithm::ConsistentHash(key, ring) => {
                let (hashed, set_cookie) = hash_key::hash_of(key, input);
                let index = hashed.and_then(|h| ring.owner(h));
                let mut pick = at(index.unwrap_or_else(|| self.random(count)));
                pick.set_cookie = set_cookie;
                Some(pick)
            }
        }
    }

    fn random(&self, bound: usize) -> usize {
        self.chance.below(bound.max(1) as u32) as usize
    }
}

/// The endpoints of `cluster` known by IP (DNS ones are resolved elsewhere), in its order.
pub fn ip_endpoints(cluster: &Cluster) -> Vec<SocketAddr> {
    let ip = |(address, port): &(Address, u16)| match address {
        Address::Ip(ip) => Some(SocketAddr::new(*ip, *port)),
        Address::Dns(_) => None,
    };
    cluster.endpoints.iter().filter_map(ip).collect()
}

fn algorithm(endpoints: &[SocketAddr], lb: Option<&LoadBalancer>) -> Algorithm {
    let hashed = lb
        .and_then(|lb| lb.consistent_hash.as_ref())
        .and_then(hash_key::parse);
    if let Some((key, size)) = hashed {
        return Algorithm::ConsistentHash(key, Ring::new(endpoints, size));
    }
    match lb.and_then(|lb| lb.simple) {
        Some(SimpleLb::LeastRequest | SimpleLb::LeastConn) => {
            Algorithm::LeastRequest(Loads::new(endpoints.len()))
        }
        Some(SimpleLb::Random) => Algorithm::Random,
        Some(SimpleLb::Passthrough) => Algorithm::Passthrough,
        Some(SimpleLb::RoundRobin | SimpleLb::Unspecified) | None => {
            Algorithm::RoundRobin(AtomicUsize::new(0))
        }
    }
}

#[cfg(test)]
mod tests;
