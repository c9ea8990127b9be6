//! The resilience policies of a snapshot's clusters and routes, compiled once: kept in each
//! item's [`Memo`](crate::snapshot::Memo), so a request only looks them up. A cluster or route
//! table a later build reuses unchanged keeps them; a new one compiles its own on first use.
//! An unreadable `retryOn` is warned about once, when its policy is compiled.

use std::net::SocketAddr;
use std::sync::Arc;

use super::breaker::Destination;
use super::from_snapshot as compile;
use super::{ConnectionPoolPolicy, OutlierPolicy, RetryPolicy};
use crate::lb::ip_endpoints;
use crate::snapshot::{Cluster, RouteTable, Snapshot};

/// A cluster's resilience policies, compiled from its merged traffic policy.
#[derive(Debug)]
pub struct ClusterPolicies {
    /// The cluster's name, shared by the detectors kept for it.
    pub name: Arc<str>,
    /// Whose limits its `connectionPool` sets: its host and subset.
    pub destination: Destination,
    /// Its `connectionPool`, when it sets one.
    pub pool: Option<ConnectionPoolPolicy>,
    /// Its `outlierDetection`, when it sets one.
    pub outlier: Option<OutlierPolicy>,
    /// Its endpoints known by IP, as its outlier detectors follow them: one list per cluster
    /// version, so a detector sees a new list only when a new snapshot changed the cluster.
    pub endpoints: Arc<[SocketAddr]>,
}

impl ClusterPolicies {
    fn of(cluster: &Cluster) -> Self {
        Self {
            name: cluster.name.as_str().into(),
            destination: Destination {
                host: cluster.hostname.clone(),
                subset: cluster.subset.clone(),
            },
            pool: cluster
                .policy
                .connection_pool
                .as_ref()
                .map(compile::pool_policy),
            outlier: (cluster.policy.outlier_detection.as_ref()).map(compile::outlier_policy),
            endpoints: ip_endpoints(cluster).into(),
        }
    }
}

/// The policies of `cluster`, compiled on the first call for this version of it.
pub fn cluster_policies(cluster: &Cluster) -> &ClusterPolicies {
    cluster
        .resilience
        .get_or_init(|| ClusterPolicies::of(cluster))
}

/// The retry policy of rule `rule` of `table` (of `snapshot`), else of a request that matched
/// no rule (`None`): the rule's `retries`, else the MeshConfig default (see
/// [`compile::retry_policy`]), each compiled once.
pub fn retry_policy(snapshot: &Snapshot, rule: Option<(&RouteTable, usize)>) -> RetryPolicy {
    let own = rule.and_then(|(table, rule)| own_retries(table).get(rule).copied().flatten());
    own.unwrap_or_else(|| *default_retries(snapshot))
}

/// The retry policy of each `http` rule of `table` that sets `retries`.
fn own_retries(table: &RouteTable) -> &[Option<RetryPolicy>] {
    let compile_all = || -> Vec<Option<RetryPolicy>> {
        let rules = table.http.iter();
        rules
            .map(|r| r.retries.as_ref().map(compile::compile_retry))
            .collect()
    };
    table.retries.get_or_init(compile_all)
}

/// The MeshConfig `defaultHttpRetryPolicy` of `snapshot`, as a rule without `retries` has it.
fn default_retries(snapshot: &Snapshot) -> &RetryPolicy {
    let mesh = &snapshot.mesh.default_http_retry_policy;
    snapshot
        .default_retries
        .get_or_init(|| compile::retry_policy(None, mesh))
}

#[cfg(test)]
#[path = "compiled_tests.rs"]
mod tests;
