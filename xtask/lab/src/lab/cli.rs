//! `cargo xtask lab up|apply|delete|exec|status|agent|top|ca-root|dns|down` (DESIGN.md §6, "Lab CLI").

use super::{down, ExecTarget, IpFamily, Lab, NodeLabel, UpOptions, DEFAULT_LAB};
use anyhow::{Context, Result};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

/// The lab's command line.
#[derive(clap::Args)]
pub struct LabArgs {
    /// The lab's name: prefix of everything it creates, so several labs can run side by side.
    #[arg(long = "lab", global = true, env = "MESH_LAB", default_value = DEFAULT_LAB)]
    name: String,
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(clap::Subcommand)]
enum LabCommand {
    /// Create the lab from Kubernetes YAML (a lab of the same name is torn down first).
    Up {
        /// How many nodes (node-1 … node-N).
        #[arg(long, default_value_t = 1)]
        nodes: u8,
        /// Do not build the workspace's binaries first.
        #[arg(long)]
        no_build: bool,
        /// Address families of pods and Services (IPv6: lab-only fd00:10:… addresses).
        #[arg(long, value_enum, default_value_t = IpFamily::Ipv4)]
        ip_family: IpFamily,
        /// The agents run `--fail-closed`: stopped or killed, they leave their pods captured and
        /// the pods' new connections refused until an agent is back.
        #[arg(long)]
        fail_closed: bool,
        /// Istio's plug-in CA files (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)
        /// for the lab's CA [default: it creates a root].
        #[arg(long)]
        ca_dir: Option<PathBuf>,
        /// A node's label, `NODE:KEY=VALUE` (repeatable): a labelled node's agent plays the
        /// gateway its labels describe, e.g. `node-2:istio=egressgateway` for Istio's egress
        /// gateway (and a host-network pod `istio-system/gateway-node-2` stands for it);
        /// topology labels (`topology.kubernetes.io/region`, `.../zone`,
        /// `topology.istio.io/subzone`) give its agent `--locality` instead.
        #[arg(long = "node-label", value_name = "NODE:KEY=VALUE")]
        node_labels: Vec<NodeLabel>,
        /// The agents ask for workload certificates of this lifetime (seconds; renewed at
        /// half of it) [default: the agent's, 24 h].
        #[arg(long)]
        cert_ttl_secs: Option<u64>,
        /// YAML files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the lab CA's root certificate (PEM).
    CaRoot,
    /// Create the objects of the YAML in the running lab.
    Apply {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Delete the objects of the YAML from the running lab.
    Delete {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run a command in a pod (netns, cgroup, hosts file) or in a node's netns.
    Exec {
        /// The pod's namespace.
        #[arg(short = 'n', long = "namespace", default_value = "default")]
        namespace: String,
        /// Run in this node's netns instead of a pod.
        #[arg(long, conflicts_with = "pod")]
        node: Option<String>,
        /// The pod.
        #[arg(required_unless_present = "node")]
        pod: Option<String>,
        /// The command, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Show pods, nodes and the agents' health.
    Status,
    /// Stop (SIGTERM), kill (SIGKILL), start or upgrade a node's agent. Stopped: its pods talk
    /// directly; started: the new agent recovers the node's pods by itself; upgraded: a
    /// successor takes the running agent's listeners over, and the old one drains.
    Agent {
        #[arg(value_enum)]
        action: AgentAction,
        /// The node (`node-N`).
        node: String,
        /// With `start`: the node's agents run `--fail-closed` from now on.
        #[arg(long)]
        fail_closed: bool,
    },
    /// The lab's DNS: `set NAME [ADDRESS...]` answers NAME with the addresses from now on
    /// (TTL 1 s), over what it answered; without addresses, back to the lab's own answer.
    Dns {
        #[command(subcommand)]
        action: DnsAction,
    },
    /// Remove everything the lab created (also after a crash).
    Down,
    /// The busiest source → destination pairs (requests/s, success rate, p50/p99), each second.
    Top {
        /// Print one table (over one second) and exit.
        #[arg(long)]
        once: bool,
    },
}

/// What `lab dns` does.
#[derive(clap::Subcommand)]
enum DnsAction {
    /// Answer NAME with ADDRESS... (none: the lab's own answer again).
    Set {
        /// The name (e.g. moving.example.net).
        host: String,
        /// Its addresses.
        addresses: Vec<std::net::IpAddr>,
    },
}

/// What `lab agent` does.
#[derive(Clone, Copy, clap::ValueEnum)]
enum AgentAction {
    Start,
    Stop,
    Kill,
    Upgrade,
}

/// Runs one lab command. `exec` exits the process with the command's exit code.
pub fn run(args: LabArgs) -> Result<()> {
    let name = args.name;
    match args.command {
        LabCommand::Up {
            nodes,
            no_build,
            ip_family,
            fail_closed,
            ca_dir,
            node_labels,
            cert_ttl_secs,
            paths,
        } => {
            let opts = UpOptions {
                name,
                nodes,
                build: !no_build,
                ip_family,
                fail_closed,
                ca_dir,
                node_labels,
                cert_ttl_secs,
                agent_args: Vec::new(),
                plaintext: false,
            };
            print!("{}", Lab::up(&opts, &paths)?.status());
        }
        LabCommand::Apply { paths } => Lab::open(&name)?.apply(&paths)?,
        LabCommand::Delete { paths } => Lab::open(&name)?.delete(&paths)?,
        LabCommand::Exec {
            namespace,
            node,
            pod,
            command,
        } => {
            let target = match (node, pod) {
                (Some(node), _) => ExecTarget::Node(node),
                (None, pod) => ExecTarget::Pod {
                    namespace,
                    name: pod.unwrap_or_default(),
                },
            };
            let mut cmd = Lab::open(&name)?.exec_command(&target, &command)?;
            let status = cmd
                .status()
                .with_context(|| format!("running {command:?}"))?;
            let code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            std::process::exit(code);
        }
        LabCommand::CaRoot => print!("{}", Lab::open(&name)?.ca_root()?),
        LabCommand::Status => print!("{}", Lab::open(&name)?.status()),
        LabCommand::Agent {
            action,
            node,
            fail_closed,
        } => match action {
            AgentAction::Start if fail_closed => {
                Lab::open(&name)?.start_agent_failing_closed(&node)?;
            }
            _ if fail_closed => anyhow::bail!("--fail-closed goes with `lab agent start` only"),
            AgentAction::Start => Lab::open(&name)?.start_agent(&node)?,
            AgentAction::Stop => Lab::open(&name)?.stop_agent(&node)?,
            AgentAction::Kill => Lab::open(&name)?.kill_agent(&node)?,
            AgentAction::Upgrade => {
                let pid = Lab::open(&name)?.upgrade_agent(&node, None)?;
                println!("the successor (pid {pid}) took over on {node}; the old agent drains");
            }
        },
        LabCommand::Dns {
            action: DnsAction::Set { host, addresses },
        } => Lab::open(&name)?.set_dns_name(&host, addresses)?,
        LabCommand::Down => down(&name)?,
        LabCommand::Top { once } => super::top::run(&Lab::open(&name)?, once)?,
    }
    Ok(())
}
