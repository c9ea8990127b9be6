//! Locality-aware balancing, as Istio sets Envoy up for it (DestinationRule
//! `loadBalancer.localityLbSetting`, on unless `enabled: false`), from where the agent's node runs
//! (`--locality`, its Node's topology labels) and where each endpoint runs (ServiceEntry
//! `endpoints[].locality`; a cluster none of whose endpoints has one is balanced as before):
//! - `distribute` whose `from` matches the agent: each endpoint's weight becomes its share of
//!   the weight of the first `to` locality it falls in, an endpoint in none gets no traffic;
//! - else, only when the destination has `outlierDetection` (Istio's rule: without it nothing
//!   would ever fail over): priorities — same region, zone and subzone first, then same zone,
//!   same region, the `failover` region of the agent's, the rest — and each request goes to
//!   the closest priority while its healthy share, times Envoy's overprovisioning factor 1.4,
//!   covers the load; ejected endpoints push the rest to the next (Envoy's priority load).
//!
//! `failoverPriority` is reported unsupported (`validate/unsupported/fields.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use crate::resources::{LocalityDistribute, TrafficPolicy};

/// Where a node or an endpoint runs; unset parts are empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Locality {
    pub region: String,
    pub zone: String,
    pub subzone: String,
}

impl FromStr for Locality {
    type Err = String;

    /// `region[/zone[/subzone]]`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = text.split('/').map(str::to_owned);
        let mut next = || parts.next().unwrap_or_default();
        let locality = Self {
            region: next(),
            zone: next(),
            subzone: next(),
        };
        match text.split('/').count() {
            1..=3 if !locality.region.is_empty() => Ok(locality),
            _ => Err(format!("locality `{text}` is not region/zone/subzone")),
        }
    }
}

impl Locality {
    /// Where a Node runs, from its topology labels; `None` without a region.
    pub fn of_node(labels: &std::collections::BTreeMap<String, String>) -> Option<Self> {
        let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
        let locality = Self {
            region: label("topology.kubernetes.io/region"),
            zone: label("topology.kubernetes.io/zone"),
            subzone: label("topology.istio.io/subzone"),
        };
        (!locality.region.is_empty()).then_some(locality)
    }

    /// From an endpoint's `region/zone/subzone` as written (extra parts ignored).
    fn of_endpoint(text: &str) -> Self {
        let mut parts = text.split('/').map(str::to_owned);
        let mut next = || parts.next().unwrap_or_default();
        Self {
            region: next(),
            zone: next(),
            subzone: next(),
        }
    }

    /// Istio's `LbPriority`: 0 all three match, 1 region and zone, 2 region, 3 none.
    fn priority(&self, endpoint: &Locality) -> u8 {
        match (
            self.region == endpoint.region,
            self.zone == endpoint.zone,
            self.subzone == endpoint.subzone,
        ) {
            (true, true, true) => 0,
            (true, true, false) => 1,
            (true, false, _) => 2,
            (false, _, _) => 3,
        }
    }
}

/// Istio's `LocalityMatch`: `pattern` is `region/zone/subzone`, where `*` or a missing part
/// matches anything.
pub fn matches(pattern: &str, locality: &Locality) -> bool {
    let mut parts = pattern.split('/');
    let region = parts.next().unwrap_or_default();
    let part = |rule: Option<&str>, value: &str| match rule {
        None | Some("" | "*") => true,
        Some(rule) => rule == value,
    };
    (region == "*" || region == locality.region)
        && part(parts.next(), &locality.zone)
        && part(parts.next(), &locality.subzone)
}

/// What locality changes in one cluster's balancing.
#[derive(Debug, Default, PartialEq)]
pub struct LocalityPlan {
    /// The endpoints' weights after `distribute` (0: no traffic); `None`: unchanged.
    pub weights: Option<Vec<u32>>,
    /// Each endpoint's priority (0 closest); `None`: one priority for all.
    pub priorities: Option<Vec<u8>>,
}

/// The plan for endpoints at `localities` (one per endpoint; empty: none known) weighing
/// `weights` (empty: evenly), seen from `own`, under the destination's `policy`.
pub fn plan(
    own: Option<&Locality>,
    localities: &[Arc<str>],
    weights: &[u32],
    policy: &TrafficPolicy,
) -> LocalityPlan {
    let setting = policy
        .load_balancer
        .as_ref()
        .and_then(|lb| lb.locality_lb_setting.clone())
        .unwrap_or_default();
    let Some(own) = own.filter(|_| !localities.is_empty() && setting.enabled != Some(false)) else {
        return LocalityPlan::default();
    };
    let endpoints: Vec<Locality> = localities
        .iter()
        .map(|l| Locality::of_endpoint(l))
        .collect();
    if !setting.distribute.is_empty() {
        let rule = setting.distribute.iter().find(|d| matches(&d.from, own));
        return LocalityPlan {
            weights: rule.map(|rule| distributed(rule, &endpoints, weights)),
            priorities: None,
        };
    }
    if policy.outlier_detection.is_none() {
        return LocalityPlan::default();
    }
    let failover = setting.failover.iter().find(|f| f.from == own.region);
    let priority = |endpoint: &Locality| match own.priority(endpoint) {
        3 if failover.is_some_and(|f| f.to != endpoint.region) => 4,
        level => level,
    };
    let levels: Vec<u8> = endpoints.iter().map(priority).collect();
    let single = levels.windows(2).all(|pair| pair[0] == pair[1]);
    LocalityPlan {
        weights: None,
        priorities: (!single).then_some(levels),
    }
}

/// Istio's `applyLocalityWeights` per endpoint: each `to` pattern in turn takes the endpoints
/// it matches that no earlier one took, and shares its weight among them by their own weights
/// (scaled by 1,000 to stay whole); endpoints no pattern takes get 0.
fn distributed(rule: &LocalityDistribute, endpoints: &[Locality], weights: &[u32]) -> Vec<u32> {
    let weight = |index: usize| u64::from(weights.get(index).copied().unwrap_or(1));
    let mut shares = vec![0u32; endpoints.len()];
    let mut taken = vec![false; endpoints.len()];
    for (pattern, share) in &rule.to {
        let matched: Vec<usize> = (0..endpoints.len())
            .filter(|i| !taken[*i] && matches(pattern, &endpoints[*i]))
            .collect();
        let total: u64 = matched.iter().map(|i| weight(*i)).sum();
        for index in matched {
            taken[index] = true;
            let scaled = (weight(index) * u64::from(*share) * 1_000).div_ceil(total.max(1));
            shares[index] = u32::try_from(scaled).unwrap_or(u32::MAX).max(1);
        }
    }
    shares
}

/// The endpoints' priorities, for narrowing a pick to the closest priority with room.
#[derive(Debug)]
pub struct Priorities {
    level: HashMap<SocketAddr, usize>,
    /// How many endpoints each priority has (priorities renumbered 0.. without gaps).
    sizes: Vec<usize>,
}

impl Priorities {
    /// From each endpoint's priority (`levels`, one per endpoint of `endpoints`).
    pub fn new(endpoints: &[SocketAddr], levels: &[u8]) -> Self {
        let mut distinct: Vec<u8> = levels.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let rank = |level: &u8| distinct.binary_search(level).unwrap_or_default();
        let mut sizes = vec![0; distinct.len()];
        let level: HashMap<SocketAddr, usize> = endpoints
            .iter()
            .zip(levels)
            .map(|(endpoint, level)| (*endpoint, rank(level)))
            .collect();
        level.values().for_each(|rank| sizes[*rank] += 1);
        Self { level, sizes }
    }

    /// Envoy's priority load in percent per priority, from each one's healthy share among
    /// `eligible` (the endpoints not ejected): `min(100, 1.4 × healthy share)`, filled from
    /// the closest, scaled up when they do not reach 100 together, the rounding left to the
    /// first priority with health.
    pub fn loads(&self, eligible: &[SocketAddr]) -> Vec<u32> {
        let mut healthy = vec![0usize; self.sizes.len()];
        eligible
            .iter()
            .filter_map(|e| self.level.get(e))
            .for_each(|rank| healthy[*rank] += 1);
        let health: Vec<u32> = healthy
            .iter()
            .zip(&self.sizes)
            .map(|(healthy, size)| ((140 * healthy / size.max(&1)) as u32).min(100))
            .collect();
        let total = health.iter().sum::<u32>().min(100);
        let mut loads = vec![0; health.len()];
        if total == 0 {
            return loads;
        }
        let mut left = 100;
        for (load, health) in loads.iter_mut().zip(&health) {
            *load = (health * 100 / total).min(left);
            left -= *load;
        }
        if let Some(first) = health.iter().position(|h| *h > 0) {
            loads[first] += left;
        }
        loads
    }

    /// `eligible` kept to the priority a draw in `0..100` lands on by [`Self::loads`]; all of
    /// `eligible` when none is healthy.
    pub fn narrow(&self, eligible: Vec<SocketAddr>, draw: u32) -> Vec<SocketAddr> {
        let loads = self.loads(&eligible);
        let mut sum = 0;
        let Some(chosen) = loads.iter().position(|load| {
            sum += load;
            draw < sum
        }) else {
            return eligible;
        };
        let in_chosen = |e: &SocketAddr| self.level.get(e).is_none_or(|rank| *rank == chosen);
        eligible.into_iter().filter(in_chosen).collect()
    }
}

#[cfg(test)]
#[path = "locality_tests.rs"]
mod tests;
