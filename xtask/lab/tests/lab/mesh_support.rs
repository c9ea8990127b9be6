//! Shared by the mesh lab tests: a two-node lab of `lab-mesh.yaml` with its agents, and reading
//! what they report — `:15020/metrics`, the admin pages, the enrolled pods, the pods' answers.

pub mod l4;
pub mod traffic;

use crate::support::{lab_dir, ok, status_line, stdout, TestLab};
use mesh_lab::lab::IpFamily;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The mesh tests' cluster (see the file).
pub const CLUSTER: &str = "lab-mesh.yaml";

/// `lab-mesh.yaml` up on two nodes as lab `name`, or `None` (after `skipped: …`) without root.
/// Panics when the eBPF object or the agent is missing: the mesh cannot be tested without them.
pub fn mesh_lab(name: &str) -> Option<TestLab> {
    mesh_lab_of(name, 2, CLUSTER)
}

/// `cluster` (a file of `tests/data/`) up on `nodes` nodes as lab `name`, like [`mesh_lab`].
pub fn mesh_lab_of(name: &str, nodes: u8, cluster: &str) -> Option<TestLab> {
    mesh_lab_in(name, IpFamily::Ipv4, nodes, cluster)
}

/// [`mesh_lab_of`] with the pods' and Services' addresses in `ip_family`.
pub fn mesh_lab_in(name: &str, ip_family: IpFamily, nodes: u8, cluster: &str) -> Option<TestLab> {
    let lab = TestLab::new(name)?;
    require_built();
    lab.up_in(ip_family, nodes, &[cluster]);
    Some(lab)
}

/// [`mesh_lab_of`] from cluster files anywhere (a test's own, written at run time).
pub fn mesh_lab_of_paths(name: &str, nodes: u8, paths: &[PathBuf]) -> Option<TestLab> {
    let lab = TestLab::new(name)?;
    require_built();
    if let Err(err) = lab.try_up(nodes, paths) {
        panic!("lab {name} up failed: {err:#}");
    }
    Some(lab)
}

/// Panics when the eBPF object or the agent is missing: the mesh cannot be tested without them.
pub fn require_built() {
    let object = mesh_lab::lab::target_dir().join("bpfel-unknown-none/release/mesh-ebpf");
    assert!(
        object.is_file(),
        "the eBPF object {} is missing: run `cargo xtask build-ebpf --release`",
        object.display()
    );
    assert!(
        agent_binary().is_file(),
        "mesh-agent is not built: run `cargo build --bins -p mesh-agent -p mesh-workloads`"
    );
}

/// `curl -sS -m 5 ARGS...` in a pod.
pub fn curl(lab: &TestLab, ns: &str, pod: &str, args: &[&str]) -> Output {
    let mut argv = vec!["curl", "-sS", "-m", "5"];
    argv.extend_from_slice(args);
    lab.exec(ns, pod, &argv)
}

/// The pod that answered a `sample-app serve` request.
pub fn answering_pod(out: &Output) -> String {
    let body = stdout(&ok_output(out));
    let answer: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    answer["pod"].as_str().unwrap_or_default().to_string()
}

/// The pods answering `url` from `ns/pod`, over up to `tries` requests, until `want` are seen.
pub fn pods_answering(
    lab: &TestLab,
    client: (&str, &str),
    url: &str,
    want: usize,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    lab.exec_until_ok(client.0, client.1, &["curl", "-fsS", "-m", "5", url]);
    for _ in 0..(want * 10) {
        seen.insert(answering_pod(&curl(lab, client.0, client.1, &[url])));
        if seen.len() >= want {
            break;
        }
    }
    seen
}

/// Node `node`'s agent's `/metrics`, read in the node's netns.
pub fn metrics(lab: &TestLab, node: &str) -> String {
    let url = "http://127.0.0.1:15020/metrics";
    stdout(&ok(lab.exec_node(node, &["curl", "-sS", "-m", "5", url])))
}

/// Node `node`'s agent's admin page `path`, read on its admin socket (`agents/node-N.admin.sock`
/// in the lab's directory; a Unix socket, so from any netns).
pub fn admin(lab: &TestLab, node: &str, path: &str) -> String {
    let socket = lab_dir(&lab.name)
        .join("agents")
        .join(format!("{node}.admin.sock"));
    let socket = socket.to_str().expect("a UTF-8 lab path");
    let url = format!("http://localhost{path}");
    let argv = ["curl", "-sS", "-m", "5", "--unix-socket", socket, &url];
    stdout(&ok(lab.exec_node(node, &argv)))
}

/// Whether `node`'s agent shows `needle` in its `/config_dump` within 20 s (asked every 250 ms).
pub fn config_dump_shows(lab: &TestLab, node: &str, needle: &str) -> bool {
    (0..80).any(|_| {
        admin(lab, node, "/config_dump").contains(needle) || {
            std::thread::sleep(std::time::Duration::from_millis(250));
            false
        }
    })
}

/// The sum of every sample of `series` whose labels contain `with` (`""`: all of them).
pub fn sum(text: &str, series: &str, with: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(with))
        .filter(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The counters a test compares before and after, on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub outbound: u64,
    pub inbound: u64,
    pub bypassed: u64,
    pub opened_source: u64,
    pub opened_destination: u64,
}

/// Node `node`'s counters now.
pub fn counters(lab: &TestLab, node: &str) -> Counters {
    let text = metrics(lab, node);
    let opened = "istio_tcp_connections_opened_total";
    Counters {
        outbound: sum(&text, "mesh_ebpf_captured_outbound_total", ""),
        inbound: sum(&text, "mesh_ebpf_captured_inbound_total", ""),
        bypassed: sum(&text, "mesh_ebpf_bypassed_total", ""),
        opened_source: sum(&text, opened, "reporter=\"source\""),
        opened_destination: sum(&text, opened, "reporter=\"destination\""),
    }
}

/// The pods enrolled with node `node`'s agent (`mesh-agent enroll list`), as `ns/name`.
pub fn enrolled(lab: &TestLab, node: &str) -> BTreeSet<String> {
    let socket = lab_dir(&lab.name).join(format!("agents/{node}.sock"));
    let out = Command::new(agent_binary())
        .args(["enroll", "--socket"])
        .arg(&socket)
        .arg("list")
        .output()
        .expect("mesh-agent enroll list");
    pods_of(&stdout(&ok(out)))
}

/// Waits (bounded) until node `node`'s agent reports exactly `want` enrolled: the agent
/// reconciles on its own, a moment after it changes or restarts.
pub fn enrolled_within(lab: &TestLab, node: &str, want: &BTreeSet<String>) {
    let deadline = std::time::Instant::now() + RECONCILE_TIMEOUT;
    loop {
        let got = enrolled_or_empty(lab, node);
        if &got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{node}'s agent reports {got:?} enrolled after {RECONCILE_TIMEOUT:?}, want {want:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// How long an agent may take to reconcile its pods ("within a few seconds").
const RECONCILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Like [`enrolled`], but an agent not answering yet has none.
fn enrolled_or_empty(lab: &TestLab, node: &str) -> BTreeSet<String> {
    let socket = lab_dir(&lab.name).join(format!("agents/{node}.sock"));
    let out = Command::new(agent_binary())
        .args(["enroll", "--socket"])
        .arg(&socket)
        .arg("list")
        .output()
        .expect("mesh-agent enroll list");
    if !out.status.success() {
        return BTreeSet::new();
    }
    pods_of(&stdout(&out))
}

fn pods_of(answer: &str) -> BTreeSet<String> {
    let answer: serde_json::Value = serde_json::from_str(answer).expect("JSON");
    let pods = answer["pods"].as_array().cloned().unwrap_or_default();
    pods.iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["namespace"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A pod's IP, from `lab status`.
pub fn pod_ip(lab: &TestLab, pod: &str) -> String {
    let status = lab.status();
    let line = status_line(&status, pod);
    line.split_whitespace().nth(2).unwrap().to_string()
}

/// A Service's ClusterIP, resolved in a pod.
pub fn cluster_ip(lab: &TestLab, ns: &str, pod: &str, service: &str) -> String {
    let out = ok(lab.exec(ns, pod, &["getent", "hosts", service]));
    stdout(&out).split_whitespace().next().unwrap().to_string()
}

/// The pids in a node agent's cgroup.
pub fn agent_pids(lab: &TestLab, node: &str) -> Vec<i32> {
    let procs = lab
        .cgroup_root()
        .join("agents")
        .join(node)
        .join("cgroup.procs");
    let text = std::fs::read_to_string(procs).unwrap_or_default();
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Where node `node`'s agent pins its maps.
pub fn pin_dir(lab: &TestLab, node: &str) -> PathBuf {
    Path::new("/sys/fs/bpf/mesh").join(format!("{}-{node}", lab.name))
}

fn ok_output(out: &Output) -> Output {
    ok(out.clone())
}

fn agent_binary() -> PathBuf {
    crate::support::built("mesh-agent")
}
