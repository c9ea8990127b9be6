//! The L4 byte-path lab tests' support (`l4_paths.rs`): a lab of `lab-l4-paths.yaml`, the
//! exchanges of `l4-peer.py` from its client pod, the agents' byte counters and CPU time.

use super::{metrics, require_built, sum};
use crate::support::{data, stdout, TestLab};
use std::path::PathBuf;
use std::time::Duration;

/// Bytes each echo exchange sends (and gets back).
pub const LARGE: usize = 8 << 20;
/// Small exchanges after the large ones: each races the agent's accept with its first bytes.
pub const SMALL_ROUNDS: usize = 20;
/// The client pod.
pub const CLIENT: (&str, &str) = ("l4", "client");

/// One exchange of `l4-peer.py client`: what it sent and got back.
pub struct Exchange {
    pub sent: u64,
    pub received: u64,
}

/// `lab-l4-paths.yaml` (with `l4-peer.py`'s path) up on two nodes as lab `name`, its agents
/// run with `agent_args` (without certificates when `plaintext`).
pub fn l4_lab(name: &str, agent_args: &[&str], plaintext: bool) -> Option<TestLab> {
    let lab = TestLab::new(name)?;
    require_built();
    let script = data("l4-peer.py");
    let template = std::fs::read_to_string(data("lab-l4-paths.yaml")).expect("the cluster file");
    let cluster = template.replace("L4_PEER", script.to_str().expect("a UTF-8 path"));
    let path = std::env::temp_dir().join(format!("{name}-l4-paths.yaml"));
    std::fs::write(&path, cluster).expect("writing the cluster file");
    lab.up_with_agents(2, &[path], agent_args, plaintext);
    Some(lab)
}

/// `l4-peer.py client HOST PORT KIND SIZE` in the client pod, which must succeed.
pub fn exchange(lab: &TestLab, target: (&str, u16), kind: &str, size: usize) -> Exchange {
    let script = data("l4-peer.py");
    let (port, size) = (target.1.to_string(), size.to_string());
    let argv = [
        "python3",
        script.to_str().unwrap(),
        "client",
        target.0,
        &port,
        kind,
        &size,
    ];
    let out = lab.exec(CLIENT.0, CLIENT.1, &argv);
    let line = stdout(&out);
    assert!(
        out.status.success(),
        "{kind} to {target:?}: {line} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    let field = |k: &str| answer[k].as_u64().unwrap_or(0);
    Exchange {
        sent: field("sent"),
        received: field("received"),
    }
}

/// Waits (bounded) until every server answers through the mesh.
pub fn servers_answer(lab: &TestLab) {
    let script = data("l4-peer.py");
    for (host, port, kind) in [("echo", "9000", "opaque"), ("banner", "9001", "banner")] {
        let argv = [
            "python3",
            script.to_str().unwrap(),
            "client",
            host,
            port,
            kind,
            "1",
        ];
        lab.exec_until_ok(CLIENT.0, CLIENT.1, &argv);
    }
}

/// Node `node`'s `series` of the `reporter` for Service `service`.
pub fn tcp_bytes(lab: &TestLab, node: &str, series: &str, reporter: &str, service: &str) -> u64 {
    let text = metrics(lab, node);
    let wanted = [
        format!("reporter=\"{reporter}\""),
        format!("destination_service_name=\"{service}\""),
    ];
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| wanted.iter().all(|w| l.contains(w.as_str())))
        .collect();
    sum(&lines.join("\n"), series, "")
}

/// Node `node`'s (received, sent) TCP bytes of `reporter` for `service`, once received
/// reaches `want` (bounded: a connection is counted as it closes, a moment after the client).
pub fn settled_bytes(
    lab: &TestLab,
    node: &str,
    reporter: &str,
    service: &str,
    want: u64,
) -> (u64, u64) {
    let read = || {
        let received = "istio_tcp_received_bytes_total";
        (
            tcp_bytes(lab, node, received, reporter, service),
            tcp_bytes(lab, node, "istio_tcp_sent_bytes_total", reporter, service),
        )
    };
    let mut seen = read();
    for _ in 0..50 {
        if seen.0 >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        seen = read();
    }
    seen
}

/// Every kind of exchange, large, then small ones racing the agent's accept; the bytes sent to
/// and received from `echo` and `banner` in all (client's view).
pub fn every_exchange(lab: &TestLab) -> [(u64, u64); 2] {
    let mut totals = [(0, 0); 2];
    let mut add = |slot: usize, e: Exchange| {
        totals[slot].0 += e.sent;
        totals[slot].1 += e.received;
    };
    add(0, exchange(lab, ("echo", 9000), "opaque", LARGE));
    add(0, exchange(lab, ("echo", 9000), "tls", LARGE));
    add(1, exchange(lab, ("banner", 9001), "banner", LARGE));
    exchange(lab, ("web", 80), "http", 0);
    for _ in 0..SMALL_ROUNDS {
        add(0, exchange(lab, ("echo", 9000), "opaque", 1000));
        add(1, exchange(lab, ("banner", 9001), "banner", 1000));
        exchange(lab, ("web", 80), "http", 0);
    }
    totals
}

/// The CPU time node `node`'s agent used so far, seconds (its cgroup's `cpu.stat`).
pub fn agent_cpu(lab: &TestLab, node: &str) -> f64 {
    let stat = lab.cgroup_root().join("agents").join(node).join("cpu.stat");
    let text = std::fs::read_to_string(&stat).unwrap_or_default();
    let usage = text.lines().find_map(|l| l.strip_prefix("usage_usec "));
    usage
        .and_then(|u| u.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e6
}

/// Both agents' CPU seconds per GB relayed over one large opaque exchange, and the round trip
/// of 1 KiB through both (printed: the figures the path is kept or dropped by).
pub fn cpu_per_gb(lab: &TestLab, what: &str) -> [f64; 2] {
    let script = data("l4-peer.py");
    let argv = [
        "python3",
        script.to_str().unwrap(),
        "client",
        "echo",
        "9000",
        "rtt",
        "2000",
    ];
    eprintln!(
        "{what}: 1 KiB round trips {}",
        stdout(&lab.exec(CLIENT.0, CLIENT.1, &argv)).trim()
    );
    let before = ["node-1", "node-2"].map(|n| agent_cpu(lab, n));
    let e = exchange(lab, ("echo", 9000), "opaque", 8 * LARGE);
    let gb = (e.sent + e.received) as f64 / 1e9;
    let per_gb = ["node-1", "node-2"].map(|n| agent_cpu(lab, n));
    let per_gb = [0, 1].map(|i| (per_gb[i] - before[i]) / gb);
    eprintln!(
        "{what}: agent CPU s per GB relayed (both ways): node-1 {:.3}, node-2 {:.3}",
        per_gb[0], per_gb[1]
    );
    per_gb
}

/// Checks every exchange's bytes against both agents' Istio counters (source on node-1,
/// destination on node-2).
pub fn bytes_counted_by_both_agents(lab: &TestLab) {
    let services = ["echo", "banner"];
    let src = services.map(|s| settled_bytes(lab, "node-1", "source", s, 0));
    let dst = services.map(|s| settled_bytes(lab, "node-2", "destination", s, 0));
    let totals = every_exchange(lab);
    for (i, service) in services.into_iter().enumerate() {
        let (sent, received) = totals[i];
        for (node, reporter, before) in [
            ("node-1", "source", src[i]),
            ("node-2", "destination", dst[i]),
        ] {
            let now = settled_bytes(lab, node, reporter, service, before.0 + sent);
            let counted = (now.0 - before.0, now.1 - before.1);
            assert_eq!(
                counted,
                (sent, received),
                "{service}: {reporter}'s (received, sent)"
            );
        }
    }
}

/// Node `node`'s `mesh_ebpf_l4_spliced_sockets` once it is 0 (bounded), else its last value.
pub fn spliced_sockets_drain(lab: &TestLab, node: &str) -> u64 {
    let mut left = u64::MAX;
    for _ in 0..50 {
        left = sum(&metrics(lab, node), "mesh_ebpf_l4_spliced_sockets", "");
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    left
}

/// The temporary cluster file of lab `name`.
pub fn cluster_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{name}-l4-paths.yaml"))
}
