//! Load balancing of one cluster (DestinationRule `trafficPolicy.loadBalancer`, already merged
//! per subset and port by the snapshot): ROUND_ROBIN, LEAST_REQUEST (power of two choices over
//! in-flight counts), RANDOM, PASSTHROUGH (the address the client dialled) and consistent hash
//! on a header, cookie, source IP or query parameter; endpoint weights honoured by each
//! (`weights`); endpoint localities by `locality` (distributed weights, failover priorities). A [`ClusterBalancer`] is built once per cluster per snapshot (the hash ring with
//! it) and picks synchronously.

mod allowed;
pub mod cache;
mod endpoints;
pub mod hash_key;
pub mod least_request;
pub mod locality;
pub mod ring;
pub mod weights;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::header::HeaderValue;
use hyper::{HeaderMap, Uri};

use crate::chance::Chance;
use crate::resources::{LoadBalancer, SimpleLb};
use crate::snapshot::Cluster;
use hash_key::HashKey;
use least_request::{InFlight, Loads};
use locality::{Locality, Priorities};
use ring::Ring;
use weights::Weights;

pub use allowed::{for_connection, pick_within};
pub use cache::Balancers;
pub use endpoints::{ip_endpoints, ip_weighted_endpoints};

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
    /// `None`: every endpoint weighs the same.
    weights: Option<Weights>,
    algorithm: Algorithm,
    chance: Chance,
    /// Failover priorities by locality (`None`: one priority).
    priorities: Option<Priorities>,
}

impl ClusterBalancer {
    /// The balancer of `cluster` (endpoints known by IP; DNS ones are resolved elsewhere), for
    /// clients at `own` locality (`None`: unknown, localities not looked at).
    pub fn for_cluster(cluster: &Cluster, chance: Chance, own: Option<&Locality>) -> Self {
        let lb = cluster.policy.load_balancer.as_ref();
        let (endpoints, weights, localities) = ip_weighted_endpoints(cluster);
        let plan = locality::plan(own, &localities, &weights, &cluster.policy);
        let Some(shares) = plan.weights else {
            let priorities = plan.priorities.map(|l| Priorities::new(&endpoints, &l));
            let balancer = Self::weighted(endpoints, weights, lb, chance);
            return Self {
                priorities,
                ..balancer
            };
        };
        let (endpoints, shares): (Vec<_>, Vec<_>) = endpoints
            .into_iter()
            .zip(shares)
            .filter(|(_, share)| *share > 0)
            .unzip();
        Self::weighted(endpoints, shares, lb, chance)
    }

    /// `eligible` (the endpoints a pick may land on) kept to the closest locality priority
    /// with room for this pick (`locality.rs`); unchanged without priorities.
    pub fn closest(&self, eligible: Vec<SocketAddr>) -> Vec<SocketAddr> {
        match &self.priorities {
            Some(priorities) => priorities.narrow(eligible, self.chance.below(100)),
            None => eligible,
        }
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
        Self::weighted(endpoints, Vec::new(), lb, chance)
    }

    /// A balancer over `endpoints` weighing each as `weights` says (one per endpoint; empty:
    /// evenly), with the `lb` settings.
    pub fn weighted(
        endpoints: Vec<SocketAddr>,
        weights: Vec<u32>,
        lb: Option<&LoadBalancer>,
        chance: Chance,
    ) -> Self {
        let algorithm = algorithm(&endpoints, &weights, lb);
        let weights = (weights.len() == endpoints.len())
            .then(|| Weights::new(weights))
            .flatten();
        Self {
            endpoints,
            weights,
            algorithm,
            chance,
            priorities: None,
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
            Algorithm::RoundRobin(next) => Some(at(match &self.weights {
                Some(weights) => weights.next_in_turn(),
                None => next.fetch_add(1, Ordering::Relaxed) % count,
            })),
            Algorithm::Random | Algorithm::Passthrough => Some(at(self.draw(count))),
            Algorithm::LeastRequest(loads) => {
                let index = self.least_request(loads, count);
                let mut pick = at(index);
                pick.in_flight = Some(loads.start(index));
                Some(pick)
            }
            Algorithm::ConsistentHash(key, ring) => {
                let (hashed, set_cookie) = hash_key::hash_of(key, input);
                let index = hashed.and_then(|h| ring.owner(h));
                let mut pick = at(index.unwrap_or_else(|| self.draw(count)));
                pick.set_cookie = set_cookie;
                Some(pick)
            }
        }
    }

    /// Power of two choices: two distinct candidates (drawn by weight when weighted, then
    /// possibly the same), the less loaded (per unit of weight) wins.
    fn least_request(&self, loads: &Loads, count: usize) -> usize {
        match &self.weights {
            Some(weights) => {
                let (a, b) = (self.draw(count), self.draw(count));
                weights.less_loaded((loads.of(a), loads.of(b)), a, b)
            }
            None => {
                let (a, b) =
                    least_request::candidates(count, self.random(count), self.random(count - 1));
                least_request::less_loaded(loads, a, b)
            }
        }
    }

    /// One of `count` endpoints at random, in proportion to their weights.
    fn draw(&self, count: usize) -> usize {
        let Some(weights) = &self.weights else {
            return self.random(count);
        };
        let scaled = u128::from(self.chance.below(u32::MAX)) * u128::from(weights.total());
        weights.owner((scaled / u128::from(u32::MAX)) as u64)
    }

    fn random(&self, bound: usize) -> usize {
        self.chance.below(bound.max(1) as u32) as usize
    }
}

fn algorithm(endpoints: &[SocketAddr], weights: &[u32], lb: Option<&LoadBalancer>) -> Algorithm {
    let hashed = lb
        .and_then(|lb| lb.consistent_hash.as_ref())
        .and_then(hash_key::parse);
    if let Some((key, size)) = hashed {
        return Algorithm::ConsistentHash(key, Ring::weighted(endpoints, weights, size));
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

#[cfg(test)]
#[path = "weighted_tests.rs"]
mod weighted_tests;
