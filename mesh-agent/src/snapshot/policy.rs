//! Traffic policies, merged the way Istio merges them (`MergeTrafficPolicy`): the top-level
//! policy; its `portLevelSettings` entry for the port replaces all four of load balancer,
//! connection pool, outlier detection and TLS (port-level settings do not inherit); then each
//! field the subset sets overrides; then the subset's own port-level entry replaces all four.
//! The old `consecutiveErrors` is kept as written: it is not `consecutive5xxErrors` (Istio counts
//! only 502/503/504 with it); `resilience::from_snapshot` compiles it.

use std::collections::HashMap;
use std::sync::Arc;

use super::memo::Memo;
use super::model::{Cluster, Service};
use crate::resources::{DestinationRuleSpec, Istio, PortTrafficPolicy, TrafficPolicy};

/// DestinationRules by canonical host.
pub(crate) type RulesByHost<'a> = HashMap<String, Vec<&'a Istio<DestinationRuleSpec>>>;

/// The rule for `host` as seen from `namespace`: one in `namespace` first, else the first
/// exported to it.
pub(crate) fn rule_for<'a>(
    rules: &RulesByHost<'a>,
    host: &str,
    namespace: &str,
) -> Option<&'a Istio<DestinationRuleSpec>> {
    let candidates = rules.get(host)?;
    let ns_of = |r: &Istio<DestinationRuleSpec>| r.metadata.namespace.clone().unwrap_or_default();
    let own = candidates.iter().find(|r| ns_of(r) == namespace);
    own.or_else(|| {
        candidates.iter().find(|r| {
            super::model::Visibility::from_export_to(&r.spec.export_to, &ns_of(r))
                .includes(namespace)
        })
    })
    .copied()
}

/// The effective policy for `port` of a host, for `subset` when given.
pub fn merge(
    top: Option<&TrafficPolicy>,
    subset: Option<&TrafficPolicy>,
    port: u16,
) -> TrafficPolicy {
    let mut merged = top.map(|p| at_port(p, port)).unwrap_or_default();
    if let Some(subset) = subset {
        override_set(&mut merged, subset);
        if let Some(entry) = port_entry(subset, port) {
            apply_entry(&mut merged, entry);
        }
    }
    merged
}

/// `policy` with its port-level entry for `port` applied and `portLevelSettings` emptied.
fn at_port(policy: &TrafficPolicy, port: u16) -> TrafficPolicy {
    let mut out = TrafficPolicy {
        port_level_settings: Vec::new(),
        ..policy.clone()
    };
    if let Some(entry) = port_entry(policy, port) {
        apply_entry(&mut out, entry);
    }
    out
}

fn port_entry(policy: &TrafficPolicy, port: u16) -> Option<&PortTrafficPolicy> {
    let number = |p: &&PortTrafficPolicy| p.port.as_ref().map(|s| s.number);
    policy
        .port_level_settings
        .iter()
        .find(|p| number(p) == Some(port))
}

/// A port-level entry replaces all four settings, set or not (it does not inherit).
fn apply_entry(into: &mut TrafficPolicy, entry: &PortTrafficPolicy) {
    into.load_balancer = entry.load_balancer.clone();
    into.connection_pool = entry.connection_pool.clone();
    into.outlier_detection = entry.outlier_detection.clone();
    into.tls = entry.tls.clone();
}

fn override_set(into: &mut TrafficPolicy, from: &TrafficPolicy) {
    set(&mut into.load_balancer, &from.load_balancer);
    set(&mut into.connection_pool, &from.connection_pool);
    set(&mut into.outlier_detection, &from.outlier_detection);
    set(&mut into.tls, &from.tls);
    set(&mut into.tunnel, &from.tunnel);
    set(&mut into.proxy_protocol, &from.proxy_protocol);
}

fn set<T: Clone>(into: &mut Option<T>, from: &Option<T>) {
    if from.is_some() {
        into.clone_from(from);
    }
}

/// The clusters of one service: each port, and each port × subset of its DestinationRule.
pub(crate) fn clusters_of(
    service: &Service,
    rule: Option<&Istio<DestinationRuleSpec>>,
) -> Vec<Arc<Cluster>> {
    let top = rule.and_then(|r| r.spec.traffic_policy.as_ref());
    let namespace = rule.and_then(|r| r.metadata.namespace.as_deref());
    let mut clusters = Vec::new();
    for port in &service.ports {
        let all = service.endpoints.iter();
        clusters.push(cluster(
            service,
            port.port,
            None,
            merge(top, None, port.port),
            all,
            namespace,
        ));
        for subset in rule.map(|r| r.spec.subsets.as_slice()).unwrap_or_default() {
            let policy = merge(top, subset.traffic_policy.as_ref(), port.port);
            let selected = service.endpoints.iter().filter(|e| {
                subset
                    .labels
                    .iter()
                    .all(|(k, v)| e.labels.get(k) == Some(v))
            });
            clusters.push(cluster(
                service,
                port.port,
                Some(&subset.name),
                policy,
                selected,
                namespace,
            ));
        }
    }
    clusters
}

fn cluster<'a>(
    service: &Service,
    port: u16,
    subset: Option<&str>,
    mut policy: TrafficPolicy,
    endpoints: impl Iterator<Item = &'a super::model::Endpoint>,
    rule_namespace: Option<&str>,
) -> Arc<Cluster> {
    if service.passthrough {
        // `resolution: NONE` is Envoy's ORIGINAL_DST cluster: a DestinationRule's balancer
        // has no endpoints to choose among.
        let simple = Some(crate::resources::SimpleLb::Passthrough);
        policy.load_balancer = Some(crate::resources::LoadBalancer {
            simple,
            ..Default::default()
        });
    }
    let name = format!(
        "outbound|{port}|{}|{}",
        subset.unwrap_or_default(),
        service.hostname
    );
    // Localities are kept from the first endpoint that has one on (none: nothing allocated).
    let (mut located, mut count) = (Vec::new(), 0);
    let (endpoints, mut weights): (Vec<_>, Vec<u32>) = endpoints
        .filter_map(|e| {
            let target = (e.address.clone(), *e.ports.get(&port)?);
            if e.locality.is_some() || !located.is_empty() {
                located.resize(count, None);
                located.push(e.locality.clone());
            }
            count += 1;
            Some((target, e.weight))
        })
        .unzip();
    if weights.windows(2).all(|pair| pair[0] == pair[1]) {
        weights.clear();
    }
    let localities = localities(located, count);
    Arc::new(Cluster {
        name,
        hostname: service.hostname.clone(),
        port,
        subset: subset.map(str::to_string),
        endpoints,
        weights,
        localities,
        policy,
        rule_namespace: rule_namespace.map(str::to_string),
        resilience: Memo::default(),
    })
}

/// One locality per endpoint (`""` unknown) from those `located` up to the last one that has
/// one; empty when none has.
fn localities(mut located: Vec<Option<Arc<str>>>, count: usize) -> Vec<Arc<str>> {
    if located.is_empty() {
        return Vec::new();
    }
    located.resize(count, None);
    let unknown: Arc<str> = Arc::from("");
    let known = |l: Option<Arc<str>>| l.unwrap_or_else(|| unknown.clone());
    located.into_iter().map(known).collect()
}
