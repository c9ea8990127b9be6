//! Where an outbound connection goes at L4: the egress decision (the address dialled, else the
//! TLS SNI it sent; passthrough or the black hole for destinations outside the registry), then
//! the addressed service's VirtualService `tls` / `tcp` rules, which pick a weighted
//! destination host, port and subset: one cluster.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::chance::Chance;
use crate::routing::l4::{self, L4Input};
use crate::snapshot::{Cluster, Egress, Service, Snapshot, Workload};

/// The L4 decision for one connection.
pub(super) enum L4Upstream {
    /// To `cluster` of `service` (the route's destination host, what telemetry names);
    /// `routed` when a rule chose it (the addressed backend is then not kept).
    Cluster {
        service: Arc<Service>,
        cluster: Arc<Cluster>,
        routed: bool,
    },
    /// ALLOW_ANY, not in the registry: to the address dialled.
    Passthrough,
    /// REGISTRY_ONLY, not in the registry: closed.
    BlackHole,
    /// The service, or the destination a rule chose, has no such cluster (port or subset).
    NoCluster(String),
}

/// The decision for `source` dialling `original`, its ClientHello naming `sni`.
pub(super) fn decide(
    snapshot: &Snapshot,
    source: &Workload,
    original: SocketAddr,
    sni: Option<&str>,
    chance: &Chance,
) -> L4Upstream {
    let namespace = source.namespace.as_str();
    let (service, port) = match snapshot.egress(original, sni, namespace) {
        Egress::Service(service, port) => (service, port),
        Egress::Passthrough => return L4Upstream::Passthrough,
        Egress::BlackHole => return L4Upstream::BlackHole,
    };
    let input = L4Input {
        port: port.port,
        destination: Some(original.ip()),
        sni,
        source_labels: Some(&source.labels),
        source_namespace: Some(namespace),
    };
    let table = snapshot.routes(&service.hostname, port.port, namespace);
    let Some(destination) = table.and_then(|t| l4::decide(t, &input, chance)) else {
        return match snapshot.cluster(&service.hostname, port.port, None) {
            Some(cluster) => L4Upstream::Cluster {
                service: service.clone(),
                cluster: cluster.clone(),
                routed: false,
            },
            None => L4Upstream::NoCluster(format!("{}:{}", service.hostname, port.port)),
        };
    };
    let to_port = destination.port.as_ref().map_or(port.port, |p| p.number);
    let subset = destination.subset.as_deref();
    let target = snapshot
        .registry()
        .lookup_shared(&destination.host, namespace);
    let cluster = target.and_then(|t| snapshot.cluster(&t.hostname, to_port, subset));
    match (target, cluster) {
        (Some(target), Some(cluster)) => L4Upstream::Cluster {
            service: target.clone(),
            cluster: cluster.clone(),
            routed: true,
        },
        _ => L4Upstream::NoCluster(format!(
            "{}:{to_port} subset {}",
            destination.host,
            subset.unwrap_or("-")
        )),
    }
}
