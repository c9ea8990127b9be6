//! Privileged end-to-end tests of capture and the L4 proxy, in a two-node lab with
//! real eBPF and one agent per node: Services by name, pods outside the mesh, no loops,
//! cross-node, inbound, IPv4-mapped connect6, exact counters, refusals.

use crate::mesh_support::{
    answering_pod, cluster_ip, counters, curl, mesh_lab, pod_ip, pods_answering,
};
use crate::support::ok;

const CLIENT: (&str, &str) = ("mesh", "client");
/// curl's exit codes for "connection refused" (7), "empty reply" (52) and "reset" (56);
/// never 28, a timeout.
const REFUSED_OR_RESET: [i32; 3] = [7, 52, 56];

#[test]
fn a_meshed_pod_reaches_every_replica_of_a_service_by_name() {
    let Some(lab) = mesh_lab("t-mesh-svc") else {
        return;
    };
    let seen = pods_answering(&lab, CLIENT, "http://web/", 3);
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["web-0", "web-1", "web-2"]
    );
    assert!(
        counters(&lab, "node-1").outbound >= 3,
        "captured by node-1's agent"
    );
}

#[test]
fn a_pod_outside_the_mesh_is_not_captured() {
    let Some(lab) = mesh_lab("t-mesh-out") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 1); // the mesh itself works
    let before = counters(&lab, "node-1");
    let out = curl(&lab, "plain", "outsider", &["http://web.mesh/"]);
    assert!(
        !out.status.success(),
        "a ClusterIP answered a pod outside the mesh (there is no kube-proxy)"
    );
    let after = counters(&lab, "node-1");
    assert_eq!(after.outbound, before.outbound, "nothing captured");
    assert!(
        after.bypassed > before.bypassed,
        "the connect hook saw it and let it be"
    );
}

#[test]
fn the_agents_own_upstream_connections_are_never_captured() {
    let Some(lab) = mesh_lab("t-mesh-loop") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 3);
    let before = [counters(&lab, "node-1"), counters(&lab, "node-2")];
    const N: u64 = 6;
    for _ in 0..N {
        ok(curl(&lab, CLIENT.0, CLIENT.1, &["http://web/"]));
    }
    let after = [counters(&lab, "node-1"), counters(&lab, "node-2")];
    // Only the client's own connections: the agent's upstream sockets would add more.
    assert_eq!(after[0].outbound - before[0].outbound, N);
    assert_eq!(after[1].outbound, before[1].outbound);
}

#[test]
fn n_connections_give_n_captures_and_n_opened_connections() {
    let Some(lab) = mesh_lab("t-mesh-count") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://far/", 1);
    let before = counters(&lab, "node-1");
    const N: u64 = 5;
    for _ in 0..N {
        ok(curl(&lab, CLIENT.0, CLIENT.1, &["http://far/"]));
    }
    let after = counters(&lab, "node-1");
    assert_eq!(
        after.outbound - before.outbound,
        N,
        "mesh_ebpf_captured_outbound_total"
    );
    assert_eq!(
        after.opened_source - before.opened_source,
        N,
        "istio_tcp_connections_opened_total{{reporter=\"source\"}}"
    );
}

#[test]
fn cross_node_a_client_on_node_1_reaches_replicas_only_on_node_2() {
    let Some(lab) = mesh_lab("t-mesh-cross") else {
        return;
    };
    let before = counters(&lab, "node-2");
    let seen = pods_answering(&lab, CLIENT, "http://far/", 2);
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["far-0", "far-1"]);
    let after = counters(&lab, "node-2");
    assert!(
        after.inbound > before.inbound,
        "node-2's agent took them in"
    );
    assert!(after.opened_destination > before.opened_destination);
}

#[test]
fn inbound_capture_for_a_connection_to_a_meshed_pods_ip() {
    let Some(lab) = mesh_lab("t-mesh-in") else {
        return;
    };
    let url = format!("http://{}:8080/", pod_ip(&lab, "mesh/web-1"));
    // From outside the mesh: no outbound capture, only node-2's inbound one.
    lab.exec_until_ok("plain", "outsider", &["curl", "-fsS", "-m", "5", &url]);
    let before = counters(&lab, "node-2");
    let out = curl(&lab, "plain", "outsider", &[&url]);
    assert_eq!(answering_pod(&out), "web-1");
    let after = counters(&lab, "node-2");
    assert!(
        after.inbound > before.inbound,
        "mesh_ebpf_captured_inbound_total rose"
    );
}

#[test]
fn connect6_with_an_ipv4_mapped_address_is_captured() {
    let Some(lab) = mesh_lab("t-mesh-v6") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 1);
    let url = format!(
        "http://[::ffff:{}]/",
        cluster_ip(&lab, "mesh", "client", "web")
    );
    let before = counters(&lab, "node-1");
    let out = curl(&lab, CLIENT.0, CLIENT.1, &["-g", &url]);
    assert!(
        answering_pod(&out).starts_with("web-"),
        "a web replica answered"
    );
    assert_eq!(counters(&lab, "node-1").outbound - before.outbound, 1);
}

#[test]
fn a_refusing_endpoint_is_seen_as_refused_or_reset() {
    let Some(lab) = mesh_lab("t-mesh-refuse") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 1);
    let direct = format!("telnet://{}:9999", pod_ip(&lab, "mesh/web-1"));
    // Through a Service whose target port is closed, and to a closed port of a meshed pod, as
    // plain TCP: curl's telnet sends nothing (stdin is empty), so no HTTP is involved.
    for url in ["telnet://closed:81", direct.as_str()] {
        let out = curl(&lab, CLIENT.0, CLIENT.1, &["-m", "20", url]);
        let code = out.status.code();
        assert!(
            code.is_some_and(|c| REFUSED_OR_RESET.contains(&c)),
            "{url}: curl exited with {code:?}, not refused/reset"
        );
    }
}
