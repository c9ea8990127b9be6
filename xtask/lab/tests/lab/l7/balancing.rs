//! The L7 lab's load-balancing steps (`lab-l7-lb.yaml` applied, checked, deleted): round robin
//! spreads sequential requests evenly, a consistent hash on `x-user` pins each user to one pod,
//! and least request sends most of a concurrent load to the fast pod when the other is slow.
//! The client and every pod are on node-1, so node-1's agent is the one that balances.

use crate::mesh_support::pods_answering;
use crate::mesh_support::traffic::{has_policy, kubectl_until, load, load_with_headers};
use crate::support::TestLab;
use serde_json::Value;

const CLIENT: (&str, &str) = ("shop", "client");
const FILE: &str = "lab-l7-lb.yaml";
/// The Services balanced (each with a DestinationRule in [`FILE`]) and their endpoint counts.
const SERVICES: [(&str, usize); 3] = [("lb-rr", 3), ("lb-hash", 3), ("lb-least", 2)];

/// A Service of namespace `shop` by its full name.
fn host(name: &str) -> String {
    format!("{name}.shop.svc.cluster.local")
}

/// How many endpoints `service`'s cluster has in `snapshot` (0: no such cluster).
fn endpoint_count(snapshot: &Value, service: &str) -> usize {
    let clusters = snapshot["clusters"][host(service)].as_array().cloned();
    let first = clusters.unwrap_or_default().first().cloned();
    first
        .and_then(|c| c["endpoints"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Applies [`FILE`] until node-1's agent balances every Service by it, runs the three checks,
/// then deletes it until none of them carries a `loadBalancer` any more.
pub fn balancing(lab: &TestLab) {
    pods_answering(lab, CLIENT, "http://lb-rr/", 3);
    pods_answering(lab, CLIENT, "http://lb-least/", 2);
    kubectl_until(lab, "apply", FILE, |s| {
        SERVICES.iter().all(|(service, count)| {
            has_policy(s, &host(service), "loadBalancer") && endpoint_count(s, service) == *count
        })
    });
    round_robin_spreads_evenly(lab);
    consistent_hash_pins_each_user(lab);
    least_request_prefers_the_fast_pod(lab);
    kubectl_until(lab, "delete", FILE, |s| {
        SERVICES
            .iter()
            .all(|(service, _)| !has_policy(s, &host(service), "loadBalancer"))
    });
    let unpinned = load_with_headers(lab, CLIENT, "http://lb-hash/", 6, 1, &["x-user:alice"]);
    eprintln!(
        "after lab delete, 6 requests as alice: {:?}",
        unpinned.by_pod
    );
    assert!(unpinned.by_pod.len() > 1, "still pinned: {unpinned:?}");
}

/// 60 sequential requests: each of the 3 pods answers exactly 20. The cluster's balancer (one
/// turn counter, shared by every connection of node-1's agent) lives as long as the cluster's
/// version, which no reload changes while the Service and the rule stay as they are; retries
/// do not move the turn and none happen here (every answer is 200).
fn round_robin_spreads_evenly(lab: &TestLab) {
    let spread = load(lab, CLIENT, "http://lb-rr/", 60, 1);
    eprintln!("ROUND_ROBIN, 60 sequential requests: {spread:?}");
    assert_eq!(spread.code("200"), 60, "{spread:?}");
    let counts: Vec<u64> = spread.by_pod.values().copied().collect();
    assert_eq!(counts, [20, 20, 20], "{spread:?}");
}

/// `consistentHash: {httpHeaderName: x-user}`: each user's 10 requests land on one pod (which
/// pod each user gets is the ring's business: two users may share one).
fn consistent_hash_pins_each_user(lab: &TestLab) {
    for user in ["alice", "bob", "carol"] {
        let header = format!("x-user:{user}");
        let pinned = load_with_headers(lab, CLIENT, "http://lb-hash/", 10, 1, &[&header]);
        eprintln!("consistentHash on x-user, 10 requests as {user}: {pinned:?}");
        assert_eq!(pinned.code("200"), 10, "{pinned:?}");
        assert_eq!(pinned.by_pod.len(), 1, "{user} not pinned: {pinned:?}");
    }
}

/// LEAST_REQUEST over `fast` and `slow` (every answer 300 ms late), 80 requests 8 at a time:
/// with two endpoints the power of two choices always draws both and takes the one with fewer
/// in flight, so `slow` only gets a request while it holds no more than `fast` does — a few per
/// 300 ms — and `fast` takes the rest. Round robin would give each 40.
fn least_request_prefers_the_fast_pod(lab: &TestLab) {
    let spread = load(lab, CLIENT, "http://lb-least/", 80, 8);
    eprintln!("LEAST_REQUEST, 80 requests 8 at a time: {spread:?}");
    assert_eq!(spread.code("200"), 80, "{spread:?}");
    let fast = spread.by_pod.get("fast").copied().unwrap_or(0);
    assert!(fast >= 56, "fast answered {fast} of 80: {spread:?}");
}
