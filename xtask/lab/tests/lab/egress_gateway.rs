//! Istio's egress gateway task with real eBPF: node-2 is labelled `istio=egressgateway`, so its
//! agent plays the egress gateway; the client on node-1 calls the external host, its agent
//! routes the request to `istio-egressgateway.istio-system.svc.cluster.local` (node-2), and
//! node-2's agent sends it on to the host, which sees the connection come from node-2; node-2
//! reports the request as sent by Istio's egress gateway (`istio-egressgateway`, its own
//! service account), not the ingress gateway.

use crate::mesh_support::{curl, metrics, sum};
use crate::support::{stdout, TestLab};
use std::thread::sleep;
use std::time::Duration;

#[test]
fn the_egress_gateway_task_leaves_the_cluster_from_the_labelled_node() {
    let Some(lab) = TestLab::new("t-egw") else {
        return;
    };
    lab.up_with_node_labels(
        2,
        &["lab-egress-gateway.yaml"],
        &["node-2:istio=egressgateway"],
    );
    let node2 = lab.open().nodes()[1].address().to_string();
    let mut last = serde_json::Value::Null;
    for _ in 0..40 {
        let out = curl(&lab, "shop", "client", &["http://edition.example.net/"]);
        last = serde_json::from_str(&stdout(&out)).unwrap_or_default();
        if last["service"] == "edition" {
            break;
        }
        sleep(Duration::from_millis(250));
    }
    assert_eq!(last["service"], "edition", "the host answered: {last}");
    let peer = last["peer"].as_str().unwrap_or_default();
    assert!(
        peer.starts_with(&format!("{node2}:")),
        "the host sees node-2 ({node2}) as the client, not {peer}"
    );
    let reported = metrics(&lab, "node-2");
    let from_egress = "source_workload=\"istio-egressgateway\"";
    assert!(
        sum(&reported, "istio_requests_total", from_egress) > 0,
        "node-2 reports its requests as the egress gateway's:\n{reported}"
    );
    let principal = "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account";
    assert!(
        reported.contains(principal) && !reported.contains("istio-ingressgateway"),
        "the egress gateway's own identity, never the ingress gateway's:\n{reported}"
    );
}
