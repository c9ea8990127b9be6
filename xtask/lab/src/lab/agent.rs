//! The one place where the node agent plugs into the lab: one `mesh-agent run` per
//! node, in the node's netns, reading the lab's config directory; meshed pods enrolled through
//! its Unix socket (`mesh-agent enroll`) before their processes start.

use super::agent_process::{self as process, AgentLaunch};
use super::state::{Node, Pod};
use super::{node_http, run, teardown, Lab};
use anyhow::{anyhow, bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The agent's readiness port in the node's netns (Istio's).
pub const READY_PORT: u16 = 15021;
/// The agent's Prometheus port in the node's netns (Istio's).
pub const METRICS_PORT: u16 = 15020;
/// How long a starting agent may take to answer `/healthz/ready` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The agents' config poll interval (1 s) and a margin for loading.
const CONFIG_RELOAD_WAIT: Duration = Duration::from_millis(1500);
/// Lines of the agent's log shown when it fails to start.
const LOG_TAIL_LINES: usize = 20;

/// Starts one agent per node and waits until each is ready.
pub fn start_agents(lab: &Lab) -> Result<()> {
    for node in &lab.state.nodes {
        start(lab, node)?;
    }
    Ok(())
}

/// Enrolls a meshed pod with its node's agent (before the pod's processes start).
pub fn enroll(lab: &Lab, pod: &Pod) -> Result<()> {
    let node = pod_node(lab, pod)?;
    let netns = format!("/var/run/netns/{}", pod.netns);
    let mut args: Vec<String> = ["add", "--namespace", &pod.namespace, "--name", &pod.name]
        .into_iter()
        .chain(["--uid", &pod.uid, "--netns", &netns])
        .map(String::from)
        .collect();
    for ip in &pod.ips {
        let gateway = bridge_address(node, ip.is_ipv4());
        args.extend(["--ip".into(), ip.to_string()]);
        args.extend(["--node-ip".into(), gateway.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    enroll_request(lab, node, &args)
        .with_context(|| format!("enrolling pod {}/{}", pod.namespace, pod.name))?;
    Ok(())
}

/// Removes a meshed pod from its node's agent (before the pod is torn down). A stopped agent
/// has nothing to remove: it is only reported.
pub fn unenroll(lab: &Lab, pod: &Pod) -> Result<()> {
    let node = pod_node(lab, pod)?;
    let args = ["remove", "--namespace", &pod.namespace, "--name", &pod.name];
    if let Err(err) = enroll_request(lab, node, &args) {
        eprintln!(
            "lab {}: pod {}/{} not unenrolled: {err:#}",
            lab.name(),
            pod.namespace,
            pod.name
        );
    }
    Ok(())
}

/// Gives running agents time to read a changed config directory: they poll it every second
/// (`mesh-agent`'s `CONFIG_POLL_INTERVAL`), so the pods started next find their Services.
pub fn await_config_reload(lab: &Lab) {
    let running = lab
        .state
        .nodes
        .iter()
        .any(|node| !process::pids(&own_cgroup(lab, node)).is_empty());
    if running {
        std::thread::sleep(CONFIG_RELOAD_WAIT);
    }
}

/// One line on the agents' health, for `lab status`: per node, ready / not ready / stopped.
pub fn health(lab: &Lab) -> String {
    let nodes: Vec<String> = lab
        .state
        .nodes
        .iter()
        .map(|node| {
            let pid = process::pids(&own_cgroup(lab, node)).first().copied();
            match (pid, is_ready(node)) {
                (None, _) => format!("{} stopped", node.name),
                (Some(pid), true) => format!("{} ready (pid {pid})", node.name),
                (Some(pid), false) => format!("{} not ready (pid {pid})", node.name),
            }
        })
        .collect();
    format!("agents: {}", nodes.join(", "))
}

impl Lab {
    /// `lab agent start --node N`: starts the node's agent and re-enrolls its meshed pods.
    pub fn start_agent(&self, node: &str) -> Result<()> {
        let node = self.node_named(node)?;
        if !process::pids(&own_cgroup(self, node)).is_empty() {
            bail!("the agent on {} is already running", node.name);
        }
        start(self, node)?;
        let pods = self.state.pods.iter().filter(|p| p.meshed);
        for pod in pods.filter(|p| p.node.as_deref() == Some(node.name.as_str())) {
            enroll(self, pod)?;
        }
        Ok(())
    }

    /// `lab agent stop --node N`: stops the node's agent; its pods then talk directly (fail open).
    pub fn stop_agent(&self, node: &str) -> Result<()> {
        let node = self.node_named(node)?;
        process::stop_all(&own_cgroup(self, node))?;
        teardown::remove_dir(&process::pin_dir(&node.netns))?;
        let _ = std::fs::remove_file(self.dir.agent_socket(&node.name));
        Ok(())
    }

    /// `GET 127.0.0.1:<port><path>` in a node's netns (the agent's metrics): status and body.
    pub fn node_get(&self, node: &str, port: u16, path: &str) -> Result<(u16, String)> {
        let node = self.node_named(node)?;
        let answer = node_http::get(&node.netns, port, path)?;
        Ok((answer.status, answer.body))
    }

    fn node_named(&self, name: &str) -> Result<&Node> {
        self.state.node(name).ok_or_else(|| {
            anyhow!(
                "no node {name:?} in lab {} (nodes are node-1 … node-N)",
                self.state.name
            )
        })
    }
}

/// Starts the node's agent and waits (bounded) until it is ready.
fn start(lab: &Lab, node: &Node) -> Result<()> {
    let own = own_cgroup(lab, node);
    let (socket, log) = (
        lab.dir.agent_socket(&node.name),
        lab.dir.agent_log(&node.name),
    );
    let launch = AgentLaunch {
        node: &node.name,
        node_netns: &node.netns,
        attach_cgroup: &node.cgroup,
        own_cgroup: &own,
        config_dir: &lab.dir.config_dir(),
        socket: &socket,
        admin_socket: &lab.dir.admin_socket(&node.name),
        log: &log,
    };
    let pid = process::spawn(&launch)?;
    let started = Instant::now();
    while !is_ready(node) {
        let exited = process::pids(&own).is_empty();
        if exited || started.elapsed() >= READY_TIMEOUT {
            let what = if exited { "exited" } else { "is not ready" };
            bail!(
                "the agent on {} (pid {pid}) {what} after {:.1}s; the end of {}:\n{}",
                node.name,
                started.elapsed().as_secs_f32(),
                log.display(),
                process::log_tail(&log, LOG_TAIL_LINES)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether the node's agent answers `/healthz/ready` with 200.
fn is_ready(node: &Node) -> bool {
    node_http::get(&node.netns, READY_PORT, "/healthz/ready").is_ok_and(|a| a.status == 200)
}

/// Runs `mesh-agent enroll --socket <node's socket> ARGS...`.
fn enroll_request(lab: &Lab, node: &Node, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(process::binary()?);
    cmd.arg("enroll")
        .arg("--socket")
        .arg(lab.dir.agent_socket(&node.name))
        .args(args);
    run::run(&mut cmd)
}

/// `<lab root>/agents/node-N`.
fn own_cgroup(lab: &Lab, node: &Node) -> PathBuf {
    process::agents_cgroup(&lab.state.cgroup_root).join(&node.name)
}

fn pod_node<'l>(lab: &'l Lab, pod: &Pod) -> Result<&'l Node> {
    let name = pod.node.as_deref().unwrap_or_default();
    lab.state
        .node(name)
        .ok_or_else(|| anyhow!("pod {}/{} is on no node", pod.namespace, pod.name))
}

/// The node's bridge address on the pod network (`10.244.N.1`): kubelet probes come from it.
/// The node's gateway on its pod network, in IPv4 or IPv6 (kubelet probes come from it).
fn bridge_address(node: &Node, v4: bool) -> IpAddr {
    match v4 {
        true => Ipv4Addr::new(10, 244, node.index, 1).into(),
        false => super::family::pod_ip6(node.index, 1).into(),
    }
}
