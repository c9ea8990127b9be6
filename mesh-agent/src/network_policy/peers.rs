//! One `from` entry of an ingress rule against the connection's source: a pod selector (in
//! the policy's namespace), a namespace selector (any pod there), both (pods matching in the
//! matching namespaces), or an ipBlock (the source address within `cidr`, outside `except`).

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPeer};

use super::selector::selects;
use super::Source;

/// Whether `peer` (of a policy in `namespace`) admits `source`.
pub fn matches(peer: &NetworkPolicyPeer, namespace: &str, source: &Source) -> bool {
    if let Some(block) = &peer.ip_block {
        return in_block(block, source);
    }
    let Some(pod) = source.pod else {
        return false;
    };
    let in_namespace = match &peer.namespace_selector {
        Some(selector) => selects(selector, pod.namespace_labels),
        None => pod.namespace == namespace,
    };
    let pod_selected = peer
        .pod_selector
        .as_ref()
        .is_none_or(|selector| selects(selector, pod.labels));
    in_namespace && pod_selected
}

/// The address within `cidr` and none of `except` (a CIDR that does not read matches nothing;
/// validation reports it).
fn in_block(block: &IPBlock, source: &Source) -> bool {
    let contains = |cidr: &str| {
        cidr.parse::<IpNet>()
            .is_ok_and(|net| net.contains(&source.ip))
    };
    let excepted = block.except.iter().flatten().any(|cidr| contains(cidr));
    contains(&block.cidr) && !excepted
}
