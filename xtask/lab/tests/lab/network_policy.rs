//! Kubernetes NetworkPolicy in the lab with real eBPF: on the same-node fast path the agent
//! delivers the connection inside the app's pod (no veth, no CNI), so it enforces the app's
//! ingress rules itself — the selected client's connection is echoed, another client's is
//! closed before the app, counted `mesh_network_policy_denied_total` and `DENY`.

use crate::mesh_support::{mesh_lab_of, metrics, pod_ip, sum};
use crate::support::TestLab;

const CLUSTER: &str = "lab-network-policy.yaml";

/// Whether `tcp-client` from `kpolicy/<client>` got its echo back from `addr`.
fn echoed(lab: &TestLab, client: &str, addr: &str) -> bool {
    let argv = ["sample-app", "tcp-client", "--addr", addr];
    lab.exec("kpolicy", client, &argv).status.success()
}

#[test]
fn a_network_policy_blocks_one_same_node_client_and_allows_another() {
    let Some(lab) = mesh_lab_of("t-kpolicy", 1, CLUSTER) else {
        return;
    };
    let addr = format!("{}:7000", pod_ip(&lab, "kpolicy/app"));
    let argv = ["sample-app", "tcp-client", "--addr", &addr];
    lab.exec_until_ok("kpolicy", "friend", &argv);
    assert!(echoed(&lab, "friend", &addr), "the policy's peer got in");
    assert!(!echoed(&lab, "stranger", &addr), "another pod got in");
    let node_1 = metrics(&lab, "node-1");
    let refused = sum(
        &node_1,
        "mesh_network_policy_denied_total",
        r#"policy="kpolicy/app-ingress""#,
    );
    assert_eq!(refused, 1, "{node_1}");
    let same_node = sum(
        &node_1,
        "mesh_network_policy_denied_total",
        r#"path="same_node""#,
    );
    assert_eq!(same_node, 1, "{node_1}");
    let flagged = sum(
        &node_1,
        "istio_tcp_connections_opened_total",
        r#"response_flags="DENY""#,
    );
    assert!(flagged >= 1, "{node_1}");
}
