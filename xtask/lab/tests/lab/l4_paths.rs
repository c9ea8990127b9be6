//! The L4 byte paths the kernel shortens, with real eBPF: same-node `sk_msg` acceleration
//! (app ⇄ agent) and `sk_skb` splicing (agent's two sockets joined in the kernel). Each runs
//! client-first protocols whose first bytes detection peeks at (an opaque stream written in
//! two parts, a TLS ClientHello, an HTTP request line cut in two), a server that speaks first,
//! megabytes both ways ended by a half-close, and checks the Istio byte counters.

use crate::mesh_support::l4::{
    bytes_counted_by_both_agents, cluster_file, cpu_per_gb, l4_lab, servers_answer,
    spliced_sockets_drain,
};
use crate::mesh_support::{metrics, sum};

#[test]
fn l4_splicing_moves_plaintext_bytes_in_the_kernel_in_order_and_counts_them() {
    let Some(lab) = l4_lab("t-splice", &["--l4-splice"], true) else {
        return;
    };
    servers_answer(&lab);
    let spliced = |node| sum(&metrics(&lab, node), "mesh_ebpf_spliced_segments_total", "");
    let before = [spliced("node-1"), spliced("node-2")];
    bytes_counted_by_both_agents(&lab);
    cpu_per_gb(&lab, "spliced (plain text)");
    let after = [spliced("node-1"), spliced("node-2")];
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "spliced segments: {before:?} → {after:?}"
    );
    for node in ["node-1", "node-2"] {
        let failures = sum(
            &metrics(&lab, node),
            "mesh_ebpf_l4_splice_load_failures_total",
            "",
        );
        assert_eq!(failures, 0, "{node}: the verdict loaded");
        assert_eq!(
            spliced_sockets_drain(&lab, node),
            0,
            "{node}: every closed socket left SPLICED"
        );
    }
    let _ = std::fs::remove_file(cluster_file(&lab.name));
}

#[test]
fn plaintext_l4_copied_by_the_agents_counts_every_byte() {
    // The baseline of the splicing test: the same exchanges copied in user space.
    let Some(lab) = l4_lab("t-l4copy", &[], true) else {
        return;
    };
    servers_answer(&lab);
    bytes_counted_by_both_agents(&lab);
    cpu_per_gb(&lab, "copied by the agents (plain text)");
    let spliced = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_spliced_segments_total",
        "",
    );
    assert_eq!(spliced, 0, "nothing is spliced without --l4-splice");
    let _ = std::fs::remove_file(cluster_file(&lab.name));
}

#[test]
fn sk_msg_acceleration_keeps_every_byte_in_order_through_protocol_detection() {
    let Some(lab) = l4_lab("t-accel", &["--sk-msg-accel"], true) else {
        return;
    };
    servers_answer(&lab);
    bytes_counted_by_both_agents(&lab);
    let accelerated = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_accelerated_messages_total",
        "",
    );
    assert!(accelerated > 0, "no message was accelerated");
    cpu_per_gb(&lab, "sk_msg acceleration (plain text)");
    let _ = std::fs::remove_file(cluster_file(&lab.name));
}
