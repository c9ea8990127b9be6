//! The decision on one delivered connection, its facts read from the snapshot: the
//! destination workload's labels and named ports, its namespace's labels, and the source pod.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{admit, Destination, PodFacts, Source, Verdict};
use crate::snapshot::{Snapshot, Workload};

/// The ingress NetworkPolicies' verdict on a TCP connection from `source_ip` (the pod
/// `source` when the agent knows it) to `port` of `destination`.
pub fn decide(
    snapshot: &Snapshot,
    destination: &Workload,
    port: u16,
    source_ip: IpAddr,
    source: Option<&Workload>,
) -> Verdict {
    let policies = snapshot.network_policies(&destination.namespace);
    if policies.is_empty() {
        return Verdict::Unrestricted;
    }
    let empty = BTreeMap::new();
    let named_ports = snapshot.named_container_ports(&destination.namespace, &destination.pod_name);
    let destination_namespace = namespace_labels(snapshot, &destination.namespace);
    let target = Destination {
        pod: PodFacts {
            namespace: &destination.namespace,
            labels: &destination.labels,
            namespace_labels: destination_namespace.unwrap_or(&empty),
        },
        port,
        named_ports: &named_ports,
    };
    let source_pod = source.map(|w| PodFacts {
        namespace: &w.namespace,
        labels: &w.labels,
        namespace_labels: namespace_labels(snapshot, &w.namespace).unwrap_or(&empty),
    });
    let from = Source {
        ip: source_ip,
        pod: source_pod,
    };
    admit(policies.iter().map(AsRef::as_ref), &target, &from)
}

fn namespace_labels<'s>(
    snapshot: &'s Snapshot,
    namespace: &str,
) -> Option<&'s BTreeMap<String, String>> {
    snapshot
        .namespace_object(namespace)?
        .metadata
        .labels
        .as_ref()
}
