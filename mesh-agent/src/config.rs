//! The agent's settings: command-line flags, resolved once into an [`AgentConfig`] with every
//! default in this file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Serialize;

pub use crate::validate::access_log_file::DEFAULT_ACCESS_LOG_DIR;

/// Default Prometheus endpoint (Istio's port).
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:15020";
/// Default readiness endpoint (Istio's port).
pub const DEFAULT_READY_ADDR: &str = "0.0.0.0:15021";
/// Default admin endpoint (`/config_dump`): loopback only, as Istio's 15000.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:15000";
/// Default upstream connect timeout, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Default runtime worker threads: a node agent shares the node with its pods (ztunnel's
/// default is 2 as well).
pub const DEFAULT_WORKER_THREADS: usize = 2;

/// `mesh-agent run` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Read Kubernetes and Istio resources from this directory (recursively); hot reload.
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
    /// Admin address (`/config_dump`); keep it on loopback: it shows the whole configuration.
    #[arg(long, default_value = DEFAULT_ADMIN_ADDR)]
    pub admin_addr: SocketAddr,
    /// Same-node acceleration with sock_ops + sk_msg (off until the benchmark shows it wins).
    #[arg(long)]
    pub sk_msg_accel: bool,
    /// Keep same-node connections on two hops (through the destination pod's inbound
    /// listener) instead of dialling the app directly in its netns (for comparison).
    #[arg(long)]
    pub no_same_node_fast_path: bool,
    /// Upstream connect timeout in milliseconds; the client is reset when it expires.
    #[arg(long, default_value_t = DEFAULT_CONNECT_TIMEOUT_MS)]
    pub connect_timeout_ms: u64,
    /// Labels of this node's ingress gateway (`k=v,...`): Gateways whose selector they
    /// satisfy are served on the node's address.
    #[arg(long, default_value = crate::gateway::DEFAULT_GATEWAY_LABELS)]
    pub gateway_labels: crate::gateway::GatewayLabels,
    /// Threads serving traffic [default: 2, as ztunnel, or fewer when the node has fewer CPUs].
    #[arg(long, env = "MESH_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// The only directory MeshConfig's `accessLogFile` may name a file in (besides
    /// /dev/stdout and /dev/stderr); the agent opens nothing outside it.
    #[arg(long, default_value = DEFAULT_ACCESS_LOG_DIR)]
    pub access_log_dir: PathBuf,
    /// Seconds the agent drains on SIGTERM before closing the connections still open; keep it
    /// a few seconds below the pod's `terminationGracePeriodSeconds`.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::lifecycle::shutdown::DEFAULT_DRAIN_TIME.as_secs())]
    pub drain_time: u64,
}

/// Where the mesh configuration is read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// A directory of YAML/JSON files, hot reloaded.
    Directory(PathBuf),
    /// The Kubernetes API (in-cluster credentials or the local kubeconfig).
    Kubernetes,
}

/// The resolved settings, logged at start.
#[derive(Clone, Debug, Serialize)]
pub struct AgentConfig {
    /// Where the configuration comes from.
    pub source: ConfigSource,
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
    /// Admin (`/config_dump`) address.
    pub admin_addr: SocketAddr,
    /// sk_msg acceleration.
    pub sk_msg_accel: bool,
    /// Same-node fast path: an outbound connection to a pod on this node dials its app
    /// directly inside its netns.
    pub same_node_fast_path: bool,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// The ingress gateway's labels.
    pub gateway_labels: crate::gateway::GatewayLabels,
    /// Runtime worker threads serving traffic.
    pub worker_threads: usize,
    /// Where `accessLogFile` may name files.
    pub access_log_dir: PathBuf,
    /// How long the agent drains on SIGTERM.
    pub drain_time: Duration,
}

impl AgentConfig {
    /// Fills in the defaults of `args`.
    pub fn resolve(args: RunArgs) -> anyhow::Result<Self> {
        let node = &args.node_name;
        if node.is_empty() || node.contains('/') {
            bail!("--node-name {node:?} must be a non-empty name without '/'");
        }
        let source = match (args.config_dir, args.kubernetes) {
            (Some(dir), false) => ConfigSource::Directory(dir),
            (None, true) => ConfigSource::Kubernetes,
            _ => bail!("give exactly one of --config-dir DIR and --kubernetes"),
        };
        if !args.access_log_dir.is_absolute() {
            bail!(
                "--access-log-dir {:?} must be absolute",
                args.access_log_dir
            );
        }
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
            source,
            node_name: args.node_name,
            cgroup,
            bpf_object: args.bpf_object,
            metrics_addr: args.metrics_addr,
            ready_addr: args.ready_addr,
            admin_addr: args.admin_addr,
            sk_msg_accel: args.sk_msg_accel,
            same_node_fast_path: !args.no_same_node_fast_path,
            connect_timeout: Duration::from_millis(args.connect_timeout_ms),
            gateway_labels: args.gateway_labels,
            worker_threads: worker_threads(args.worker_threads)?,
            access_log_dir: args.access_log_dir,
            drain_time: Duration::from_secs(args.drain_time),
        })
    }
}

/// `--worker-threads`, or the default: [`DEFAULT_WORKER_THREADS`], fewer on a smaller node.
fn worker_threads(asked: Option<usize>) -> anyhow::Result<usize> {
    match asked {
        Some(0) => bail!("--worker-threads must be at least 1"),
        Some(threads) => Ok(threads),
        None => {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            Ok(DEFAULT_WORKER_THREADS.min(cpus))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_default_to_two_at_most_and_refuse_zero() {
        let default = worker_threads(None).unwrap();
        assert!((1..=DEFAULT_WORKER_THREADS).contains(&default));
        assert_eq!(worker_threads(Some(3)).unwrap(), 3);
        let err = worker_threads(Some(0)).unwrap_err().to_string();
        assert!(err.contains("--worker-threads"), "{err}");
    }

    #[derive(clap::Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn resolved(extra: &[&str]) -> AgentConfig {
        use clap::Parser;
        let base = [
            "run",
            "--node-name",
            "n1",
            "--config-dir",
            "/c",
            "--cgroup",
            "/g",
        ];
        let argv = base.iter().chain(extra);
        AgentConfig::resolve(Run::try_parse_from(argv).unwrap().args).unwrap()
    }

    #[test]
    fn drain_time_defaults_below_the_grace_period_and_is_settable() {
        assert_eq!(resolved(&[]).drain_time, Duration::from_secs(25));
        assert_eq!(
            resolved(&["--drain-time", "7"]).drain_time,
            Duration::from_secs(7)
        );
    }
}
