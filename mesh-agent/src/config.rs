//! The agent's settings: command-line flags, resolved once into an [`AgentConfig`] with every
//! default in this file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use serde::Serialize;

pub use crate::validate::access_log_file::DEFAULT_ACCESS_LOG_DIR;
pub use crate::validate::tls_files::DEFAULT_TLS_FILE_DIR;

/// Default Prometheus endpoint (Istio's port).
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:15020";
/// Default readiness endpoint (Istio's port).
pub const DEFAULT_READY_ADDR: &str = "0.0.0.0:15021";
pub use crate::admin_socket::DEFAULT_ADMIN_SOCKET;
/// Where the enrolled pods' records are kept.
pub const DEFAULT_STATE_DIR: &str = "/run/mesh-agent/state";
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
    /// The namespaces whose TLS Secrets (gateway `credentialName`s) the Kubernetes source reads,
    /// comma-separated; nowhere else (RBAC: a namespaced Role in each).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "istio-system,mesh-system"
    )]
    pub secret_namespaces: Vec<String>,
    /// This node's name (scopes the pinned maps and the enrollment socket).
    #[arg(long)]
    pub node_name: String,
    /// The pods' cgroup v2 subtree the capture programs attach to, never the cgroup2 root
    /// (Cilium attaches there) [default: kubepods.slice, else kubepods, under the cgroup2 root].
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// The compiled `mesh-ebpf` object [default: chosen by the loader].
    #[arg(long)]
    pub bpf_object: Option<PathBuf>,
    /// Where maps are pinned [default: /sys/fs/bpf/mesh/<node>].
    #[arg(long)]
    pub bpf_pin_dir: Option<PathBuf>,
    /// The enrollment API's Unix socket [default: /run/mesh-agent/enroll.sock].
    #[arg(long)]
    pub enroll_socket: Option<PathBuf>,
    /// Where the records of enrolled pods are kept (a restarted agent recovers its pods from
    /// them).
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Prometheus `/metrics` address.
    #[arg(long, default_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
    /// `/healthz/ready` address.
    #[arg(long, default_value = DEFAULT_READY_ADDR)]
    pub ready_addr: SocketAddr,
    /// The admin endpoints' Unix socket (`/config_dump`, `/clusters`, `/logging`): root only,
    /// read with `mesh-agent admin`. There is no admin TCP port.
    #[arg(long, default_value = DEFAULT_ADMIN_SOCKET)]
    pub admin_socket: PathBuf,
    /// The hand-over socket (root only): a running agent listens on it; a new agent started
    /// with the same settings finds it there and takes the listeners over (upgrades).
    #[arg(long, default_value = crate::handover::DEFAULT_SOCKET)]
    pub handover_socket: PathBuf,
    /// Same-node acceleration with sock_ops + sk_msg (off until the benchmark shows it wins).
    #[arg(long)]
    pub sk_msg_accel: bool,
    /// L4 splicing: a plain-text L4 connection's two agent sockets (client, upstream) are
    /// joined in the kernel (sockmap + `sk_skb` verdict) once the upstream is chosen, so its
    /// bytes no longer cross into the agent (not for the mTLS tunnel, nor HTTP).
    #[arg(long)]
    pub l4_splice: bool,
    /// Keep same-node connections on two hops (through the destination pod's inbound
    /// listener) instead of dialling the app directly in its netns (for comparison).
    #[arg(long)]
    pub no_same_node_fast_path: bool,
    /// Parse every tunnelled HTTP request at the destination too (as before L7 once per
    /// request): the source never offers to report the destination side (for comparison).
    #[arg(long)]
    pub no_l7_once_per_request: bool,
    /// Upstream connect timeout in milliseconds; the client is reset when it expires.
    #[arg(long, default_value_t = DEFAULT_CONNECT_TIMEOUT_MS)]
    pub connect_timeout_ms: u64,
    /// Labels of this node's gateway (`k=v,...`): Gateways whose selector they satisfy are
    /// served on the node's address; `istio=egressgateway` makes it Istio's egress gateway
    /// (workload istio-egressgateway, its own service account and certificate).
    #[arg(long, default_value = crate::gateway::DEFAULT_GATEWAY_LABELS)]
    pub gateway_labels: crate::gateway::GatewayLabels,
    /// The ServiceAccount (`namespace/name`) this node's gateway runs as: its identity in the
    /// tunnel and telemetry [default: istio-ingressgateway-service-account, or
    /// istio-egressgateway-service-account for the egress gateway, in the mesh's root
    /// namespace, as Istio's gateway Deployments].
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub gateway_service_account: Option<crate::gateway::GatewayServiceAccount>,
    /// Where this node runs, `region/zone/subzone` (as its Node's `topology.kubernetes.io/region`,
    /// `topology.kubernetes.io/zone` and `topology.istio.io/subzone` labels say): locality-aware
    /// balancing prefers endpoints closest to it [default: unknown, localities not compared].
    #[arg(long, value_name = "REGION/ZONE/SUBZONE")]
    pub locality: Option<crate::lb::locality::Locality>,
    /// Threads serving traffic [default: 2, as ztunnel, or fewer when the node has fewer CPUs].
    #[arg(long, env = "MESH_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// The only directory MeshConfig's `accessLogFile` may name a file in (besides
    /// /dev/stdout and /dev/stderr); the agent opens nothing outside it.
    #[arg(long, default_value = DEFAULT_ACCESS_LOG_DIR)]
    pub access_log_dir: PathBuf,
    /// The only directory DestinationRule certificate files (`caCertificates`,
    /// `clientCertificate`, `privateKey`, `caCrl`) may be in; a rule naming another file is
    /// rejected, and nothing is read outside it (symlinks included).
    #[arg(long, default_value = DEFAULT_TLS_FILE_DIR)]
    pub tls_file_dir: PathBuf,
    /// Seconds the agent drains on SIGTERM before closing the connections still open; keep it
    /// a few seconds below the pod's `terminationGracePeriodSeconds`.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::lifecycle::shutdown::DEFAULT_DRAIN_TIME.as_secs())]
    pub drain_time: u64,
    /// Fail closed: while no agent runs (stopped, crashed, restarting), the capture stays
    /// attached and enrolled pods' new connections are refused, instead of going direct
    /// around the mesh (the default, fail open). Also `MESH_FAIL_CLOSED=true`.
    #[arg(long, env = "MESH_FAIL_CLOSED")]
    pub fail_closed: bool,
    #[command(flatten)]
    pub ca: crate::certs::CaClientArgs,
    /// The resolver configuration DNS ServiceEntries are resolved with (servers, search,
    /// ndots), as the node's own programs resolve.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// Ask this one DNS server (`ADDR:PORT`) instead of those of `--resolv-conf` (tests).
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns_server: Option<SocketAddr>,
    /// Connections open through all pods' listeners at most; one more is closed at accept.
    #[arg(long, default_value_t = crate::proxy::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Connections open from or to one pod at most; one more is closed at accept.
    #[arg(long, default_value_t = crate::proxy::DEFAULT_MAX_CONNECTIONS_PER_POD)]
    pub max_connections_per_pod: usize,
    /// HTTP requests in flight from or to one pod at most; one more is answered 503 (`OM`).
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_REQUESTS_IN_FLIGHT_PER_POD)]
    pub max_requests_in_flight_per_pod: usize,
    /// Tunnel TLS handshakes a second per pod (and gateway TLS handshakes per client
    /// address) at most; one more connection is reset before its handshake.
    #[arg(long, default_value_t = crate::proxy::DEFAULT_MAX_HANDSHAKES_PER_SECOND)]
    pub max_handshakes_per_second: u32,
    /// Milliseconds a client has to send a whole HTTP/1 request head once it starts one.
    #[arg(long, value_name = "MS", default_value_t = crate::http::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64)]
    pub header_read_timeout_ms: u64,
    /// Seconds a downstream HTTP connection may stay without a request in flight.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::http::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub http_idle_timeout: u64,
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
    /// Where the Kubernetes source reads gateway credentials (TLS Secrets).
    pub secret_namespaces: Vec<String>,
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
    /// The enrolled pods' records.
    pub state_dir: PathBuf,
    /// `/metrics` address.
    pub metrics_addr: SocketAddr,
    /// `/healthz/ready` address.
    pub ready_addr: SocketAddr,
    /// The admin endpoints' Unix socket.
    pub admin_socket: PathBuf,
    /// The hand-over socket.
    pub handover_socket: PathBuf,
    /// sk_msg acceleration.
    pub sk_msg_accel: bool,
    /// L4 splicing in the kernel.
    pub l4_splice: bool,
    /// Same-node fast path: an outbound connection to a pod on this node dials its app
    /// directly inside its netns.
    pub same_node_fast_path: bool,
    /// L7 once per request: the HTTP path offers the destination's agent to report its side,
    /// which then carries the stream at L4 when the pod needs no L7 there.
    pub l7_once_per_request: bool,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// The ingress gateway's labels.
    pub gateway_labels: crate::gateway::GatewayLabels,
    /// The ingress gateway's ServiceAccount (`None`: Istio's, in the root namespace).
    pub gateway_service_account: Option<crate::gateway::GatewayServiceAccount>,
    /// Where this node runs, for locality-aware balancing.
    pub locality: Option<crate::lb::locality::Locality>,
    /// Runtime worker threads serving traffic.
    pub worker_threads: usize,
    /// Where `accessLogFile` may name files.
    pub access_log_dir: PathBuf,
    /// Where DestinationRule certificate files may be.
    pub tls_file_dir: PathBuf,
    /// How long the agent drains on SIGTERM.
    pub drain_time: Duration,
    /// What the pods' traffic does while no agent runs.
    pub failure_mode: crate::lifecycle::FailureMode,
    /// The CA workload certificates come from; none: no certificates (plaintext).
    pub ca: Option<crate::certs::CaClientSettings>,
    /// The resolver configuration of DNS ServiceEntries.
    pub resolv_conf: PathBuf,
    /// The one DNS server asked instead, when given.
    pub dns_server: Option<SocketAddr>,
    /// Downstream connections at most, in all and per pod.
    pub max_connections: usize,
    pub max_connections_per_pod: usize,
    /// HTTP requests in flight per pod at most.
    pub max_requests_in_flight_per_pod: usize,
    /// TLS handshakes a second per pod (tunnel) or client (gateway) at most.
    pub max_handshakes_per_second: u32,
    /// Downstream HTTP connections: the head's and the idle timeout.
    pub downstream: crate::http::DownstreamTimeouts,
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
        if !args.tls_file_dir.is_absolute() {
            bail!("--tls-file-dir {:?} must be absolute", args.tls_file_dir);
        }
        for namespace in &args.secret_namespaces {
            namespace_name(namespace)?;
        }
        let cgroup = match args.cgroup {
            Some(cgroup) => cgroup,
            None => crate::bpf::detect_pods_cgroup(Path::new("/proc/mounts"))?,
        };
        Ok(Self {
            bpf_pin_dir: args
                .bpf_pin_dir
                .unwrap_or_else(|| Path::new("/sys/fs/bpf/mesh").join(node)),
            enroll_socket: args
                .enroll_socket
                .unwrap_or_else(|| Path::new("/run/mesh-agent/enroll.sock").to_path_buf()),
            state_dir: args.state_dir,
            source,
            secret_namespaces: args.secret_namespaces,
            node_name: args.node_name,
            cgroup,
            bpf_object: args.bpf_object,
            metrics_addr: args.metrics_addr,
            ready_addr: args.ready_addr,
            admin_socket: args.admin_socket,
            handover_socket: args.handover_socket,
            sk_msg_accel: args.sk_msg_accel,
            l4_splice: args.l4_splice,
            same_node_fast_path: !args.no_same_node_fast_path,
            l7_once_per_request: !args.no_l7_once_per_request,
            connect_timeout: Duration::from_millis(args.connect_timeout_ms),
            gateway_labels: args.gateway_labels,
            gateway_service_account: args.gateway_service_account,
            locality: args.locality,
            worker_threads: worker_threads(args.worker_threads)?,
            access_log_dir: args.access_log_dir,
            tls_file_dir: args.tls_file_dir,
            drain_time: Duration::from_secs(args.drain_time),
            failure_mode: crate::lifecycle::FailureMode::from_flag(args.fail_closed),
            ca: args.ca.resolve()?,
            resolv_conf: args.resolv_conf,
            dns_server: args.dns_server,
            max_connections: at_least_one("--max-connections", args.max_connections)?,
            max_connections_per_pod: at_least_one(
                "--max-connections-per-pod",
                args.max_connections_per_pod,
            )?,
            max_requests_in_flight_per_pod: at_least_one(
                "--max-requests-in-flight-per-pod",
                args.max_requests_in_flight_per_pod,
            )?,
            max_handshakes_per_second: at_least_one(
                "--max-handshakes-per-second",
                args.max_handshakes_per_second as usize,
            )? as u32,
            downstream: crate::http::DownstreamTimeouts {
                header_read: Duration::from_millis(args.header_read_timeout_ms),
                idle: Duration::from_secs(args.http_idle_timeout),
            },
        })
    }
}

/// `value` of `flag`, refused when 0 (no connection at all would be served).
fn at_least_one(flag: &str, value: usize) -> anyhow::Result<usize> {
    if value == 0 {
        bail!("{flag} 0 would refuse everything: give at least 1");
    }
    Ok(value)
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

/// Checks a `--secret-namespaces` entry is a namespace name (an RFC 1123 label).
fn namespace_name(name: &str) -> anyhow::Result<()> {
    let label = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !label {
        bail!("--secret-namespaces: {name:?} is not a namespace name (lowercase letters, digits and '-', at most 63)");
    }
    Ok(())
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

    #[test]
    fn secret_namespaces_default_to_istio_and_the_mesh_and_must_be_names() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            run: RunArgs,
        }
        let parse = |extra: &[&str]| {
            let base = [
                "mesh-agent",
                "--config-dir",
                "/c",
                "--node-name",
                "n",
                "--cgroup",
                "/g",
            ];
            let args = Cli::try_parse_from(base.iter().chain(extra)).unwrap().run;
            AgentConfig::resolve(args)
        };
        let config = parse(&[]).unwrap();
        assert_eq!(config.secret_namespaces, ["istio-system", "mesh-system"]);
        let config = parse(&["--secret-namespaces", "edge,istio-system"]).unwrap();
        assert_eq!(config.secret_namespaces, ["edge", "istio-system"]);
        let err = parse(&["--secret-namespaces", "edge,Bad_NS"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--secret-namespaces: \"Bad_NS\" is not a namespace name (lowercase letters, digits and '-', at most 63)"
        );
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

    #[test]
    fn the_agent_fails_open_unless_told_to_fail_closed() {
        use crate::lifecycle::FailureMode;
        assert_eq!(resolved(&[]).failure_mode, FailureMode::Open);
        let config = resolved(&["--fail-closed"]);
        assert_eq!(config.failure_mode, FailureMode::Closed);
        let logged = serde_json::to_value(&config).unwrap();
        assert_eq!(logged["failure_mode"], "closed");
    }

    #[test]
    fn overload_settings_have_defaults_and_refuse_a_cap_of_zero() {
        let config = resolved(&[]);
        assert_eq!(
            config.max_connections,
            crate::proxy::DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(config.max_connections_per_pod, 10_000);
        assert_eq!(config.downstream.header_read, Duration::from_secs(30));
        assert_eq!(config.downstream.idle, Duration::from_secs(3600));
        let set = resolved(&[
            "--max-connections-per-pod",
            "5",
            "--header-read-timeout-ms",
            "250",
        ]);
        assert_eq!(set.max_connections_per_pod, 5);
        assert_eq!(set.downstream.header_read, Duration::from_millis(250));
        use clap::Parser;
        let argv = [
            "run",
            "--node-name",
            "n1",
            "--config-dir",
            "/c",
            "--cgroup",
            "/g",
            "--max-connections",
            "0",
        ];
        let err = AgentConfig::resolve(Run::try_parse_from(argv).unwrap().args).unwrap_err();
        assert!(err.to_string().starts_with("--max-connections 0"), "{err}");
    }
}
