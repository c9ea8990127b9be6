//! The agent's settings: command-line flags, resolved once into an [`AgentConfig`] with every
//! default in this file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Serialize;

/// Default Prometheus endpoint (Istio's port).
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:15020";
/// Default readiness endpoint (Istio's port).
pub const DEFAULT_READY_ADDR: &str = "0.0.0.0:15021";
/// Default upstream connect timeout, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How often the config directory is checked for changes.
pub const CONFIG_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// `mesh-agent run` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Read Services and Pods (and, later, mesh resources) from this directory; hot reload.
    #[arg(
        long,
        conflicts_with = "kubernetes",
        required_unless_present = "kubernetes"
    )]
    pub config_dir: Option<PathBuf>,
    /// Read everything from the Kubernetes API (in-cluster or kubeconfig credentials).
    #[arg(long)]
    pub kubernetes: bool,
    /// This node's name (scopes the pinned maps and the enrollment socket).
    #[arg(long)]
    pub node_name: String,
    /// The cgroup v2 subtree the capture programs attach to [default: the cgroup2 mount root].
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// The compiled `mesh-ebpf` object [default: chosen by the loader].
    #[arg(long)]
    pub bpf_object: Option<PathBuf>,
    /// Where maps are pinned [default: /sys/fs/bpf/mesh/<node>].
    #[arg(long)]
    pub bpf_pin_dir: Option<PathBuf>,
    /// The enrollment API's Unix socket [default: /run/mesh-agent/<node>.sock].
    #[arg(long)]
    pub enroll_socket: Option<PathBuf>,
    /// Prometheus `/metrics` address.
    #[arg(long, default_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
    /// `/healthz/ready` address.
    #[arg(long, default_value = DEFAULT_READY_ADDR)]
    pub ready_addr: SocketAddr,
    /// Same-node acceleration with sock_ops + sk_msg (off until the benchmark shows it wins).
    #[arg(long)]
    pub sk_msg_accel: bool,
    /// Upstream connect timeout in milliseconds; the client is reset when it expires.
    #[arg(long, default_value_t = DEFAULT_CONNECT_TIMEOUT_MS)]
    pub connect_timeout_ms: u64,
}

/// The resolved settings, logged at start.
#[derive(Clone, Debug, Serialize)]
pub struct AgentConfig {
    /// Config directory.
    pub config_dir: PathBuf,
    /// Node name.
    pub node_name: String,
    /// Cgroup subtree the capture programs attach to.
    pub cgroup: PathBuf,
    /// `mesh-ebpf` object, when given.
    pub bpf_object: Option<PathBuf>,
    /// Pin directory of the maps.
    pub bpf_pin_dir: PathBuf,
    /// Enrollment socket.
    pub enroll_socket: PathBuf,
    /// `/metrics` address.
    pub metrics_addr: SocketAddr,
    /// `/healthz/ready` address.
    pub ready_addr: SocketAddr,
    /// sk_msg acceleration.
    pub sk_msg_accel: bool,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Config directory poll interval.
    pub config_poll_interval: Duration,
}

impl AgentConfig {
    /// Fills in the defaults of `args`.
    pub fn resolve(args: RunArgs) -> anyhow::Result<Self> {
        let node = &args.node_name;
        if node.is_empty() || node.contains('/') {
            bail!("--node-name {node:?} must be a non-empty name without '/'");
        }
        let Some(config_dir) = args.config_dir else {
            bail!(
                "--kubernetes: the Kubernetes source is not wired into `run` yet; use --config-dir"
            );
        };
        let cgroup = match args.cgroup {
            Some(cgroup) => cgroup,
            None => cgroup2_root(Path::new("/proc/mounts"))?,
        };
        Ok(Self {
            bpf_pin_dir: args
                .bpf_pin_dir
                .unwrap_or_else(|| Path::new("/sys/fs/bpf/mesh").join(node)),
            enroll_socket: args
                .enroll_socket
                .unwrap_or_else(|| Path::new("/run/mesh-agent").join(format!("{node}.sock"))),
            config_dir,
            node_name: args.node_name,
            cgroup,
            bpf_object: args.bpf_object,
            metrics_addr: args.metrics_addr,
            ready_addr: args.ready_addr,
            sk_msg_accel: args.sk_msg_accel,
            connect_timeout: Duration::from_millis(args.connect_timeout_ms),
            config_poll_interval: CONFIG_POLL_INTERVAL,
        })
    }
}

/// The mount point of the cgroup v2 hierarchy, from a mounts table such as `/proc/mounts`.
pub fn cgroup2_root(mounts: &Path) -> anyhow::Result<PathBuf> {
    let table = std::fs::read_to_string(mounts)
        .with_context(|| format!("cannot read {}", mounts.display()))?;
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&"cgroup2"))
        .and_then(|fields| fields.get(1).map(PathBuf::from))
        .with_context(|| format!("no cgroup2 mount in {}; pass --cgroup", mounts.display()))
}
