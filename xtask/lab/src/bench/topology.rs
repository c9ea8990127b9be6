//! The benchmark's labs: bringing them up (with the agent flags under test), naming their pods
//! and addresses, and preparing their namespaces for many short connections.

use crate::build_ebpf::workspace_root;
use crate::lab::{down, Lab, Pod, UpOptions};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The benchmark lab's name.
pub const LAB: &str = "bench";
/// The namespace outside the mesh.
pub const DIRECT_NS: &str = "bench-direct";
/// The namespace in the mesh (ambient).
pub const MESH_NS: &str = "bench-mesh";
/// Where the servers listen.
pub const SERVER_PORT: u16 = 9000;
/// Extra agent flags for the lab's agents (read by the lab's agent hook).
pub const AGENT_ARGS_ENV: &str = "MESH_LAB_AGENT_ARGS";
/// Set for `lab up`: the agents run without certificates (the lab's `PLAINTEXT_ENV`).
pub const PLAINTEXT_ENV: &str = "MESH_LAB_PLAINTEXT";
/// How long servers get to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Removes the benchmark lab however the run ends.
pub struct LabGuard;

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Err(err) = down(LAB) {
            eprintln!("bench: removing lab {LAB}: {err:#}");
        }
    }
}

/// Brings the lab up from `yaml` (under `xtask/bench/`) with `agent_args` for its agents, from
/// the binaries already built (see `release.rs`).
pub fn up(nodes: u8, yaml: &str, agent_args: &str) -> Result<Lab> {
    up_from(nodes, &bench_file(yaml), agent_args, Security::Mtls)
}

/// A file under `xtask/bench/`.
pub fn bench_file(name: &str) -> PathBuf {
    workspace_root().join("xtask").join("bench").join(name)
}

/// Whether the lab's agents get workload certificates (and so tunnel between nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// The lab's default: every agent enrolled with the lab's CA.
    Mtls,
    /// The agents start without `--ca-address`: plaintext between nodes.
    Plaintext,
}

/// Brings the lab up from the YAML at `path`, its agents with `agent_args` and `security`.
pub fn up_from(nodes: u8, path: &Path, agent_args: &str, security: Security) -> Result<Lab> {
    // Single-threaded here: nothing else reads the environment concurrently.
    std::env::set_var(AGENT_ARGS_ENV, agent_args);
    match security {
        Security::Mtls => std::env::remove_var(PLAINTEXT_ENV),
        Security::Plaintext => std::env::set_var(PLAINTEXT_ENV, "1"),
    }
    let yaml = path.file_name().unwrap_or_default().to_string_lossy();
    let opts = UpOptions {
        name: LAB.to_string(),
        nodes,
        build: false,
        ip_family: Default::default(),
        fail_closed: false,
        ca_dir: None,
        node_labels: Vec::new(),
        cert_ttl_secs: None,
        agent_args: Vec::new(),
        plaintext: false,
    };
    eprintln!(
        "==> lab {LAB}: {nodes} node(s) from {yaml}, agent flags {agent_args:?}, {security:?}"
    );
    let lab = Lab::up(&opts, &[path.to_path_buf()]);
    std::env::remove_var(PLAINTEXT_ENV);
    lab
}

/// The pod `namespace/name`, which the benchmark YAML declares.
pub fn pod<'l>(lab: &'l Lab, namespace: &str, name: &str) -> Result<&'l Pod> {
    lab.pod(namespace, name)
        .ok_or_else(|| anyhow!("the benchmark lab has no pod {namespace}/{name}"))
}

/// `POD_IP:9000` of `namespace/name`.
pub fn pod_addr(lab: &Lab, namespace: &str, name: &str) -> Result<String> {
    Ok(format!("{}:{SERVER_PORT}", pod(lab, namespace, name)?.ip()))
}

/// `CLUSTER_IP:9000` of the Service `namespace/name`.
pub fn service_addr(lab: &Lab, namespace: &str, name: &str) -> Result<String> {
    let service = lab
        .services()
        .iter()
        .find(|s| s.namespace() == namespace && s.name() == name)
        .ok_or_else(|| anyhow!("the benchmark lab has no Service {namespace}/{name}"))?;
    Ok(format!("{}:{SERVER_PORT}", service.cluster_ip()))
}

/// Waits until something listens on `port` in the network namespace `netns`.
pub fn wait_listening(netns: &str, port: u16) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let wanted = format!(":{port} ");
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", netns, "ss", "-Hltn"])
            .output()
            .context("running ss")?;
        if String::from_utf8_lossy(&out.stdout).contains(&wanted) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("nothing listens on port {port} in {netns} after {READY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lets every lab namespace reuse TIME_WAIT ports for new connections, so the connection-setup
/// runs (tens of thousands of connections to one address) do not run out of source ports.
pub fn allow_many_connections(lab: &Lab) -> Result<()> {
    let pods = lab.pods().iter().map(|p| p.netns());
    let nodes = lab.nodes().iter().map(|n| n.netns());
    for netns in pods.chain(nodes) {
        let status = Command::new("ip")
            .args(["netns", "exec", netns, "sysctl", "-qw"])
            .args([
                "net.ipv4.tcp_tw_reuse=1",
                "net.ipv4.ip_local_port_range=1024 65000",
            ])
            .status()
            .context("running sysctl")?;
        if !status.success() {
            bail!("sysctl in {netns} failed ({status})");
        }
    }
    Ok(())
}
