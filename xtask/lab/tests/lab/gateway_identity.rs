//! The ingress gateway as a workload of the mesh, with real eBPF: node-1's agent obtains the
//! gateway's identity from the lab's CA (every lab node carries the label of the nodes running
//! the gateway) and reaches the frontend on node-2 in the mTLS tunnel with that certificate, so
//! a STRICT `shop` still answers the external visitor, and node-2 reports the gateway's
//! principal from the certificate it was shown.

use crate::mesh_support::{admin, metrics, require_built, sum};
use crate::support::TestLab;

const GATEWAY_ID: &str =
    "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

/// The status code of `GET http://node-1/` with `Host: shop.example.com` from the visitor.
fn status(lab: &TestLab) -> String {
    crate::gateway::status_of(lab, "shop.example.com", "http://node-1/")
}

#[test]
fn the_gateway_reaches_a_strict_workload_in_the_tunnel_as_its_own_identity() {
    let Some(lab) = TestLab::new("t-gwid") else {
        return;
    };
    require_built();
    // STRICT from the start: no plain-text connection of the gateway was ever let in (one
    // opened before a policy arrives stays open, pooled).
    lab.up(2, &["lab-gateway.yaml", "lab-gateway-strict.yaml"]);
    let host = "Host: shop.example.com";
    crate::gateway::visitor_curl(&lab, &["-H", host, "http://node-1/"]);
    for _ in 0..10 {
        assert_eq!(status(&lab), "200", "STRICT shop answers the gateway");
    }
    let certs: serde_json::Value =
        serde_json::from_str(&admin(&lab, "node-1", "/certs")).expect("/certs is JSON");
    let listed = certs["certificates"].as_array().expect("a list");
    let gateway = listed.iter().find(|c| c["identity"] == GATEWAY_ID);
    assert!(
        gateway.is_some_and(|c| c["serial"].is_string()),
        "node-1 holds no gateway certificate: {certs:#}"
    );
    let text = metrics(&lab, "node-2");
    let received: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{reporter=\"destination\""))
        .filter(|l| l.contains("destination_workload=\"frontend\""))
        .collect();
    let from_gateway = received.iter().filter(|l| {
        l.contains(&format!("source_principal=\"{GATEWAY_ID}\""))
            && l.contains("connection_security_policy=\"mutual_tls\"")
    });
    let counted: u64 = from_gateway
        .map(|l| sum(l, "istio_requests_total", ""))
        .sum();
    assert!(counted >= 10, "node-2's series: {received:#?}");
}
