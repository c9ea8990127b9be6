//! The one place where the node agent plugs into the lab: one `mesh-agent run` per
//! node, in the node's netns, reading the lab's config directory. The lab never enrolls pods:
//! `mesh-cni` does (`cni.rs`), and a (re)started agent recovers its pods by itself. What the
//! agent reports enrolled (`mesh-agent enroll list`) is read here for `lab status`.

use super::agent_process::{self as process, AgentLaunch};
use super::state::Node;
use super::{node_http, run, teardown, Lab};
use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};
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
/// How long a killed agent may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of the agent's log shown when it fails to start.
const LOG_TAIL_LINES: usize = 20;

/// Starts one agent per node and waits until each is ready.
pub fn start_agents(lab: &Lab) -> Result<()> {
    for node in &lab.state.nodes {
        start(lab, node)?;
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
            let pids = process::pids(&own_cgroup(lab, node));
            // Two while an upgrade's predecessor drains.
            let pid = (!pids.is_empty()).then(|| {
                pids.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            });
            let mode = if node.fail_closed { " fail-closed" } else { "" };
            match (pid, is_ready(node)) {
                (None, _) => format!("{} stopped{mode}", node.name),
                (Some(pid), true) => format!("{} ready (pid {pid}){mode}", node.name),
                (Some(pid), false) => format!("{} not ready (pid {pid}){mode}", node.name),
            }
        })
        .collect();
    format!("agents: {}", nodes.join(", "))
}

impl Lab {
    /// `lab agent start NODE`: a new agent on the node, which recovers the node's pods on its
    /// own (the lab enrolls nothing).
    pub fn start_agent(&self, node: &str) -> Result<()> {
        let node = self.node_named(node)?;
        if !process::pids(&own_cgroup(self, node)).is_empty() {
            bail!("the agent on {} is already running", node.name);
        }
        start(self, node)
    }

    /// `lab agent start NODE --fail-closed`: records that the node's agents fail closed from
    /// now on (this start, later starts and upgrades), then starts one.
    pub fn start_agent_failing_closed(&mut self, node: &str) -> Result<()> {
        let name = self.node_named(node)?.name.clone();
        for recorded in self.state.nodes.iter_mut().filter(|n| n.name == name) {
            recorded.fail_closed = true;
        }
        self.save()?;
        self.start_agent(node)
    }

    /// `lab agent stop NODE`: SIGTERM (SIGKILL after a bounded wait); its pods then talk
    /// directly (fail open). Its pins and socket are removed; its state directory is kept.
    /// A fail-closed agent leaves its pins (maps and links): its pods stay captured, and their
    /// new connections are refused until the next agent; `lab down` removes them.
    pub fn stop_agent(&self, node: &str) -> Result<()> {
        let node = self.node_named(node)?;
        process::stop_all(&own_cgroup(self, node))?;
        if !node.fail_closed {
            teardown::remove_dir(&process::pin_dir(&node.netns))?;
        }
        let _ = std::fs::remove_file(self.dir.agent_socket(&node.name));
        Ok(())
    }

    /// `lab agent kill NODE`: SIGKILL, as a crash: pins, socket and state stay behind for the
    /// next agent to deal with.
    pub fn kill_agent(&self, node: &str) -> Result<()> {
        let node = self.node_named(node)?;
        let own = own_cgroup(self, node);
        let pids = process::pids(&own);
        if pids.is_empty() {
            bail!("the agent on {} is not running", node.name);
        }
        for pid in pids {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let started = Instant::now();
        while !process::pids(&own).is_empty() {
            if started.elapsed() >= KILL_TIMEOUT {
                bail!(
                    "the agent on {} survived SIGKILL for {KILL_TIMEOUT:?}",
                    node.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The pods node `node`'s agent reports enrolled (`ns/name`), or `None` when it does not
    /// answer (stopped, starting).
    pub fn enrolled_pods(&self, node: &str) -> Result<Option<Vec<String>>> {
        let node = self.node_named(node)?;
        Ok(enrolled(self, node))
    }

    /// `GET 127.0.0.1:<port><path>` in a node's netns (the agent's metrics): status and body.
    pub fn node_get(&self, node: &str, port: u16, path: &str) -> Result<(u16, String)> {
        let node = self.node_named(node)?;
        let answer = node_http::get(&node.netns, port, path)?;
        Ok((answer.status, answer.body))
    }

    /// The cgroup the node's agents run in.
    pub(super) fn agent_cgroup(&self, node: &Node) -> PathBuf {
        own_cgroup(self, node)
    }

    pub(super) fn node_named(&self, name: &str) -> Result<&Node> {
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
    let log = lab.dir.agent_log(&node.name);
    let pid = spawn_agent(lab, node, None)?;
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

/// Starts an agent for the node (in its own cgroup, logging to the node's agent log), with
/// another eBPF object when given; its pid.
pub(super) fn spawn_agent(lab: &Lab, node: &Node, bpf_object: Option<&Path>) -> Result<u32> {
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
        bpf_object,
        fail_closed: node.fail_closed,
        lab_args: [
            super::ca::agent_args(lab, &node.name),
            super::dns::agent_args(),
            super::gateway::agent_args(node),
            super::external_tls::agent_args(&lab.dir),
            lab.state.agent_args.clone(),
        ]
        .concat(),
    };
    process::spawn(&launch)
}

/// Whether the node's agent answers `/healthz/ready` with 200.
fn is_ready(node: &Node) -> bool {
    node_http::get(&node.netns, READY_PORT, "/healthz/ready").is_ok_and(|a| a.status == 200)
}

/// `mesh-agent enroll --socket <node's socket> list`: the pods as `ns/name`, sorted; `None`
/// when the agent does not answer.
pub fn enrolled(lab: &Lab, node: &Node) -> Option<Vec<String>> {
    let mut cmd = Command::new(process::binary().ok()?);
    cmd.arg("enroll")
        .arg("--socket")
        .arg(lab.dir.agent_socket(&node.name))
        .arg("list");
    let answer: serde_json::Value = serde_json::from_str(&run::run(&mut cmd).ok()?).ok()?;
    let mut pods: Vec<String> = answer["pods"]
        .as_array()?
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            format!("{}/{}", field("namespace"), field("name"))
        })
        .collect();
    pods.sort();
    Some(pods)
}

/// The pid of the node's agent, when one runs.
pub fn pid(lab: &Lab, node: &Node) -> Option<i32> {
    process::pids(&own_cgroup(lab, node)).first().copied()
}

/// `<lab root>/agents/node-N`.
fn own_cgroup(lab: &Lab, node: &Node) -> PathBuf {
    process::agents_cgroup(&lab.state.cgroup_root).join(&node.name)
}
