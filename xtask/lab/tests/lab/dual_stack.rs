//! IPv6 and dual-stack labs with real eBPF and two agents: a pod's connect to a Service's IPv6
//! ClusterIP is captured (no bypass) and routed by the VirtualService's header rule, the hop to
//! a pod on the other node is steered by `sk_lookup` to the agent there, which dials the app on
//! the pod's IP of the connection's family; in a dual lab both families are captured.

use crate::mesh_support::{counters, curl, mesh_lab_in, metrics, pod_ip, sum, Counters};
use crate::support::{stdout, TestLab};
use mesh_lab::lab::IpFamily;
use std::net::{IpAddr, SocketAddr};

const CLUSTER: &str = "lab-dual-stack.yaml";
const CLIENT: (&str, &str) = ("six", "client");
const URL: &str = "http://backend/";
/// Requests the source agent reports for Service `backend`.
const TO_BACKEND: &str = "destination_service=\"backend.six.svc.cluster.local\"";

/// The JSON answer of `curl ARGS` from the client.
fn answer(lab: &TestLab, args: &[&str]) -> serde_json::Value {
    let out = curl(lab, CLIENT.0, CLIENT.1, args);
    let body = stdout(&out);
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{args:?}: not an answer ({e}): {body:?}"))
}

/// The version that answered and the address the app saw the connection come from.
fn version_and_peer(lab: &TestLab, args: &[&str]) -> (String, IpAddr) {
    let answer = answer(lab, args);
    let version = answer["version"].as_str().unwrap_or_default().to_string();
    let peer: SocketAddr = answer["peer"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .expect("peer");
    // An app on [::] sees IPv4 peers IPv4-mapped.
    (version, peer.ip().to_canonical())
}

/// Both nodes' counters.
fn both(lab: &TestLab) -> [Counters; 2] {
    [counters(lab, "node-1"), counters(lab, "node-2")]
}

/// Requests node-1's agent reported (as source) to Service `backend`.
fn requests_to_backend(lab: &TestLab) -> u64 {
    let text = metrics(lab, "node-1");
    let source: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("reporter=\"source\""))
        .collect();
    sum(&source.join("\n"), "istio_requests_total", TO_BACKEND)
}

#[test]
fn an_ipv6_lab_captures_and_routes_connects_to_ipv6_cluster_ips() {
    let Some(lab) = mesh_lab_in("t-six", IpFamily::Ipv6, 2, CLUSTER) else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    let vip = stdout(&lab.exec(CLIENT.0, CLIENT.1, &["getent", "hosts", "backend"]));
    assert!(
        vip.starts_with("fd00:10:96::"),
        "backend resolves to {vip:?}"
    );
    let v2: IpAddr = pod_ip(&lab, "six/backend-v2-0").parse().unwrap();
    assert!(v2.to_string().starts_with("fd00:10:244:2::"), "{v2}");
    let (before, requests) = (both(&lab), requests_to_backend(&lab));

    let (plain, _) = version_and_peer(&lab, &[URL]);
    let (jason, peer) = version_and_peer(&lab, &["-H", "end-user: jason", URL]);
    assert_eq!((plain.as_str(), jason.as_str()), ("v1", "v2"));
    // The agent on node-2 dialled v2 from inside its netns, on its own IPv6 address.
    assert_eq!(peer, v2);

    let after = both(&lab);
    assert_eq!(
        after[0].outbound - before[0].outbound,
        2,
        "{before:?} → {after:?}"
    );
    assert_eq!(
        after[0].bypassed, before[0].bypassed,
        "an IPv6 connect was bypassed"
    );
    assert_eq!(
        after[1].inbound - before[1].inbound,
        1,
        "{before:?} → {after:?}"
    );
    assert!(requests_to_backend(&lab) >= requests + 2);
}

#[test]
fn a_dual_stack_lab_captures_both_families() {
    let Some(lab) = mesh_lab_in("t-dual", IpFamily::Dual, 2, CLUSTER) else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    let v2: IpAddr = pod_ip(&lab, "six/backend-v2-0").parse().unwrap();
    let IpAddr::V4(v2_v4) = v2 else {
        panic!("a dual lab's first pod IP is IPv4: {v2}")
    };
    let v2_v6: IpAddr = format!("fd00:10:244:2::{:x}", v2_v4.octets()[3])
        .parse()
        .unwrap();
    let before = both(&lab);

    for family in ["-4", "-6"] {
        let (plain, _) = version_and_peer(&lab, &[family, URL]);
        let (jason, _) = version_and_peer(&lab, &[family, "-H", "end-user: jason", URL]);
        assert_eq!(
            (plain.as_str(), jason.as_str()),
            ("v1", "v2"),
            "curl {family}"
        );
    }
    // By pod IP in each family: a backend address of either family is routed as its Service
    // (the VirtualService applies), and v2 is dialled by its node's agent from its own netns.
    for pod_address in [v2, v2_v6] {
        let url = format!("http://{}/", SocketAddr::new(pod_address, 8080));
        let (version, peer) = version_and_peer(&lab, &["-g", "-H", "end-user: jason", &url]);
        assert_eq!(version, "v2", "{url}");
        assert!([v2, v2_v6].contains(&peer), "{url}: the app saw {peer}");
    }

    let after = both(&lab);
    assert_eq!(
        after[0].outbound - before[0].outbound,
        6,
        "{before:?} → {after:?}"
    );
    assert_eq!(
        after[0].bypassed, before[0].bypassed,
        "a connect was bypassed"
    );
    // Node-1's agent reaches v2 through the mTLS tunnel, whose streams (every request of both
    // families, balanced to the Service's primary family) share one pooled connection to
    // v2's tunnel port: at least that one was steered on node-2.
    let inbound = after[1].inbound - before[1].inbound;
    assert!(inbound >= 1, "{before:?} → {after:?}");
}
