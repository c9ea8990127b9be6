//! `lab up`: validate the input, build the binaries, replace any lab of the same name, then
//! create the fabric, the nodes, the CA (`ca.rs`), the DNS (`dns.rs`) and everything the input
//! describes.

use super::family::IpFamily;
use super::gateway::{self, NodeLabel};
use super::manifest::read_documents;
use super::paths::LabDir;
use super::plan::Plan;
use super::state::State;
use super::{agent, alloc, ca, cgroup, dns, down, net, preflight, run, Lab};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The most nodes a lab can have (node N owns 10.244.N.0/24 and 10.250.0.N).
const MAX_NODES: u8 = 250;

/// How to bring a lab up.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The lab's name (prefix of everything it creates).
    pub name: String,
    /// How many nodes (`node-1 … node-N`).
    pub nodes: u8,
    /// Build the workspace's binaries and the eBPF object first.
    pub build: bool,
    /// The families of pod and Service addresses.
    pub ip_family: IpFamily,
    /// Every node's agent runs `--fail-closed`.
    pub fail_closed: bool,
    /// Istio's plug-in CA files for the lab's CA (none: it creates a root).
    pub ca_dir: Option<PathBuf>,
    /// Labels of nodes (`--node-label node-2:istio=egressgateway`): a labelled node's agent
    /// plays the gateway they describe (`gateway.rs`).
    pub node_labels: Vec<NodeLabel>,
    /// The agents' `--cert-ttl-secs` (none: their default).
    pub cert_ttl_secs: Option<u64>,
    /// Extra flags for this lab's agents (e.g. `--sk-msg-accel`), after the lab's own and
    /// before `MESH_LAB_AGENT_ARGS`: a test's flags stay with its lab.
    pub agent_args: Vec<String>,
    /// The agents run without certificates (as with `MESH_LAB_PLAINTEXT`, for this lab alone).
    pub plaintext: bool,
}

impl Lab {
    /// Creates lab `opts.name` from the YAML in `paths`, replacing a lab of that name.
    /// Nothing is created when the input is invalid; a failure halfway removes what was made.
    pub fn up(opts: &UpOptions, paths: &[PathBuf]) -> Result<Lab> {
        preflight(&opts.name)?;
        if opts.nodes == 0 || opts.nodes > MAX_NODES {
            bail!("--nodes must be between 1 and {MAX_NODES}");
        }
        let docs = read_documents(paths)?;
        let mut state = State {
            name: opts.name.clone(),
            cgroup_root: cgroup::lab_root(&opts.name)?,
            ip_family: opts.ip_family,
            cert_ttl_secs: opts.cert_ttl_secs,
            agent_args: opts.agent_args.clone(),
            plaintext: opts.plaintext,
            ..State::default()
        };
        state.nodes = alloc::nodes(&state, opts.nodes);
        for node in &mut state.nodes {
            node.fail_closed = opts.fail_closed;
        }
        gateway::label_nodes(&mut state.nodes, &opts.node_labels)?;
        let plan = Plan::build(&docs, &state)?;
        gateway::label_nodes(&mut state.nodes, &plan.node_labels)?;
        if opts.build {
            build_binaries()?;
        }
        down(&opts.name).context("removing the previous lab")?;
        let mut lab = Lab {
            state,
            dir: LabDir::new(&opts.name),
        };
        let ca_dir = match &opts.ca_dir {
            Some(dir) => Some(std::path::absolute(dir).context("--ca-dir")?),
            None => None,
        };
        if let Err(err) = lab.create(plan, ca_dir.as_deref()) {
            let _ = down(&opts.name);
            return Err(err.context(format!("lab {} failed to come up (removed)", opts.name)));
        }
        Ok(lab)
    }

    fn create(&mut self, plan: Plan, ca_dir: Option<&std::path::Path>) -> Result<()> {
        self.dir.create()?;
        self.save()?;
        cgroup::create(&self.state.cgroup_root)?;
        net::create_fabric(&self.state.name)?;
        for node in &self.state.nodes {
            net::create_node(&self.state.name, node, &self.state.nodes)?;
            cgroup::create(&node.cgroup)?;
        }
        ca::start(self, ca_dir)?;
        dns::start(self)?;
        agent::start_agents(self)?;
        self.apply_plan(plan)
    }
}

/// `cargo build --bins -p mesh-agent -p mesh-cni -p mesh-workloads` in the workspace (the
/// agent, the CNI plugin the lab runs for each pod, the `sample-app` and `mesh-load` pods run
/// and the lab's `lab-dns`), and the eBPF object the agents load
/// (`cargo xtask build-ebpf --release`).
fn build_binaries() -> Result<()> {
    crate::build_ebpf::run(&crate::build_ebpf::Options { release: true })?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate::build_ebpf::workspace_root()).args([
        "build",
        "--bins",
        "-p",
        "mesh-agent",
        "-p",
        "mesh-cni",
        "-p",
        "mesh-workloads",
    ]);
    eprintln!("==> {}", run::command_line(&cmd));
    let status = cmd.status().context("starting cargo")?;
    if !status.success() {
        bail!("building the lab's binaries failed ({status})");
    }
    Ok(())
}
