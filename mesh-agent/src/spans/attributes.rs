//! Istio's span tags and names, from the facts of one finished request.

use crate::facts::{HopPeers, RequestFacts, ResponseFacts};

/// The span name Envoy gives a hop: `<host>:<port>/*`, the Service's hostname when known.
pub fn span_name(facts: &RequestFacts, outcome: &ResponseFacts<'_>) -> String {
    let (host, port) = facts.host_and_port();
    let host = outcome.service_host.clone().unwrap_or(host);
    format!("{host}:{port}/*")
}

/// The `service.name` Istio gives a proxy's spans: `<canonical service>.<namespace>`.
pub fn service_name(peers: &HopPeers<'_>) -> String {
    match peers.local() {
        Some(local) => format!("{}.{}", local.canonical_service, local.namespace),
        None => "unknown".into(),
    }
}

/// Istio's span tags for one hop.
pub fn istio_attributes(
    mesh_id: &str,
    peers: &HopPeers<'_>,
    facts: &RequestFacts,
    outcome: &ResponseFacts<'_>,
) -> Vec<(&'static str, String)> {
    let local = peers.local();
    let unknown = || "unknown".to_string();
    let cluster = outcome.upstream_cluster(peers.reporter, facts);
    let mut tags = vec![
        ("component", "proxy".to_string()),
        ("istio.mesh_id", mesh_id.to_string()),
        (
            "istio.canonical_service",
            local.map_or_else(unknown, |w| w.canonical_service.into()),
        ),
        (
            "istio.namespace",
            local.map_or_else(unknown, |w| w.namespace.into()),
        ),
        ("node_id", node_id(peers)),
        ("guid:x-request-id", facts.request_id.clone()),
        (
            "http.url",
            format!("http://{}{}", facts.authority, facts.path),
        ),
        ("http.method", facts.method.clone()),
        ("http.protocol", facts.protocol.to_string()),
        ("http.status_code", outcome.response_code.to_string()),
        ("response_flags", outcome.response_flags.to_string()),
        ("upstream_cluster", cluster.clone()),
        ("upstream_cluster.name", cluster),
        ("downstream_cluster", "-".to_string()),
        ("request_size", outcome.request_bytes.to_string()),
        ("response_size", outcome.response_bytes.to_string()),
    ];
    let optional = [
        ("peer.address", peers.downstream.map(|a| a.ip().to_string())),
        ("user_agent", facts.user_agent.clone()),
        (
            "upstream_address",
            outcome.upstream_host.map(|a| a.to_string()),
        ),
        ("error", outcome.failed().then(|| "true".to_string())),
    ];
    tags.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    tags
}

/// Envoy's node id: `sidecar~<pod ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`.
fn node_id(peers: &HopPeers<'_>) -> String {
    let ip = peers.pod_ip.map_or_else(|| "-".into(), |ip| ip.to_string());
    match peers.local() {
        Some(w) => format!(
            "sidecar~{ip}~{}.{}~{}.svc.cluster.local",
            w.pod_name, w.namespace, w.namespace
        ),
        None => format!("sidecar~{ip}~unknown~unknown"),
    }
}
