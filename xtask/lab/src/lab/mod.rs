//! The lab (DESIGN.md §5): a small Kubernetes-like cluster built from Linux primitives — network
//! namespaces, veth pairs, bridges, cgroups and hosts files — for tests and the demo.
//!
//! Library use (the demo, the benchmarks, the lab tests): [`Lab::up`], [`Lab::open`],
//! [`Lab::apply`], [`Lab::delete`], [`Lab::exec_command`], [`Lab::status`],
//! [`Lab::stop_agent`] / [`Lab::start_agent`] / [`Lab::kill_agent`], [`Lab::top`] and [`down`], each returning a
//! `Result` (nothing printed, nothing exits); the CLI is [`run`].

mod agent;
mod agent_process;
mod agent_upgrade;
mod alloc;
mod apply;
mod ca;
pub(crate) mod cgroup;
mod cli;
mod cni;
mod delete;
mod dns;
#[cfg(test)]
mod dns_tests;
mod external_tls;
mod family;
#[cfg(test)]
mod family_tests;
mod gateway;
mod hosts;
mod kube_objects;
mod manifest;
pub(crate) mod net;
mod net6;
mod node_http;
mod objects;
mod paths;
mod plan;
mod process;
pub(crate) mod run;
mod state;
mod status;
mod teardown;
#[cfg(test)]
mod tests;
mod top;
mod up;

pub use agent::METRICS_PORT;
pub use cli::{run, LabArgs};
pub use family::IpFamily;
pub use gateway::NodeLabel;
pub use paths::{labs_dir, target_dir};
pub use state::{Node, Pod, Service, ServicePort};
pub use status::{LabStatus, NodeStatus, PodPhase, PodStatus};
pub use teardown::down;
pub use top::TopView;
pub use up::UpOptions;

use anyhow::{anyhow, bail, Result};
use paths::LabDir;
use state::State;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The lab name used when none is given (`--lab`, `MESH_LAB`).
pub const DEFAULT_LAB: &str = "mesh";

/// A running lab: its recorded state and its directory under `target/lab/`.
pub struct Lab {
    state: State,
    dir: LabDir,
}

/// Where `lab exec` runs a command.
#[derive(Clone, Debug)]
pub enum ExecTarget {
    /// Inside a pod: its netns, cgroup and hosts file.
    Pod { namespace: String, name: String },
    /// In a node's netns (where its agent serves admin and metrics).
    Node(String),
}

impl Lab {
    /// Opens the running lab `name`.
    pub fn open(name: &str) -> Result<Lab> {
        preflight(name)?;
        let dir = LabDir::new(name);
        if !dir.state_file().exists() {
            bail!("no lab {name:?} is running (start one with `cargo xtask lab up`)");
        }
        let state = State::load(&dir.state_file())?;
        Ok(Lab { state, dir })
    }

    /// A command that runs `argv` in `target`, ready to spawn (stdio inherited unless changed).
    pub fn exec_command(&self, target: &ExecTarget, argv: &[String]) -> Result<Command> {
        if argv.is_empty() {
            bail!("no command to run");
        }
        match target {
            ExecTarget::Pod { namespace, name } => {
                let pod = self.state.pod(namespace, name).ok_or_else(|| {
                    anyhow!("no pod {namespace}/{name} in lab {}", self.state.name)
                })?;
                process::pod_command(pod, argv)
            }
            ExecTarget::Node(name) => {
                let node = self.state.node(name).ok_or_else(|| {
                    anyhow!(
                        "no node {name:?} in lab {} (nodes are node-1 … node-N)",
                        self.state.name
                    )
                })?;
                Ok(process::netns_command(&node.netns, argv))
            }
        }
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The nodes, `node-1` first.
    pub fn nodes(&self) -> &[Node] {
        &self.state.nodes
    }

    /// Every pod, external hosts included.
    pub fn pods(&self) -> &[Pod] {
        &self.state.pods
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.state.pod(namespace, name)
    }

    /// Every Service with its ClusterIP.
    pub fn services(&self) -> &[Service] {
        &self.state.services
    }

    /// The mesh resources applied, one YAML file per object (the agents' config directory).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.config_dir()
    }

    /// The lab's cgroup root (`<cgroup2>/<lab>-lab`).
    pub fn cgroup_root(&self) -> &Path {
        &self.state.cgroup_root
    }

    /// The lab's directory (`target/lab/<name>/`: state, logs, config, agent sockets).
    pub fn dir(&self) -> &Path {
        self.dir.root()
    }

    /// The log of a pod's containers.
    pub fn log_file(&self, pod: &Pod) -> PathBuf {
        self.dir.log_file(&pod.namespace, &pod.name)
    }

    /// Writes the state, and the pods on each node for the CA.
    fn save(&self) -> Result<()> {
        self.state.save(&self.dir.state_file())?;
        ca::write_callers(self)
    }
}

/// What every lab command needs: a good name, root, and the `ip` command.
fn preflight(name: &str) -> Result<()> {
    paths::check_lab_name(name)?;
    if !nix::unistd::geteuid().is_root() {
        bail!("the lab needs root (network namespaces, cgroups, /etc/netns): run as root");
    }
    if !run::available("ip") {
        bail!("the lab needs the `ip` command (iproute2)");
    }
    Ok(())
}
