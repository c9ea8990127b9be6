//! Access logs: one line per request or TCP connection with Envoy's default fields, switched by
//! the mesh config (`accessLogFile`, `accessLogEncoding`, the `accessLogSampling` extension) and
//! per workload by Telemetry resources (`accessLogging[].disabled`; a Telemetry turning logs on
//! with no `accessLogFile` logs to stdout, as Istio's `envoy` provider). Entries go through a
//! bounded channel to a writer task; when it is full they are dropped and counted
//! (`mesh_access_log_dropped_total`), never waited for.

mod entry;
mod open;
mod sampling;
mod writer;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

pub use entry::{rfc3339_millis, AccessLogEntry};
pub use sampling::LogSampler;
pub use writer::{run_writer, AccessLogSink};

use crate::facts::{HopPeers, RequestFacts, ResponseFacts};
use crate::resources::{AccessLogEncoding, MeshConfig};
use crate::validate::access_log_file::{
    access_log_target, AccessLogTarget, DEFAULT_ACCESS_LOG_DIR,
};

/// Entries waiting for the writer before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// Where and how to log, resolved from the mesh config.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessLogSettings {
    /// `None` when `accessLogFile` is empty and no Telemetry turns logs on: logging is off.
    pub sink: Option<AccessLogSink>,
    /// Whether workloads no Telemetry decides for log (`accessLogFile` is set).
    pub by_default: bool,
    /// Which entries are kept (`accessLogSampling`).
    pub sampler: LogSampler,
    /// JSON or TEXT.
    pub encoding: AccessLogEncoding,
    /// Bound of the channel to the writer.
    pub queue_capacity: usize,
}

impl AccessLogSettings {
    /// `accessLogFile`: `/dev/stdout` → stdout, `/dev/stderr` → stderr, a file under
    /// [`DEFAULT_ACCESS_LOG_DIR`] → that file, empty or anything else → off.
    pub fn from_mesh(mesh: &MeshConfig) -> Self {
        let dir = Path::new(DEFAULT_ACCESS_LOG_DIR);
        let target = access_log_target(&mesh.access_log_file, dir).unwrap_or_default();
        Self::for_mesh(mesh, &target, false)
    }

    /// The settings of `mesh`, whose `accessLogFile` was checked into `target` when it was read;
    /// `telemetry_enables` when a Telemetry resource turns logs on for some workload, which
    /// opens stdout if `accessLogFile` names nothing.
    pub fn for_mesh(mesh: &MeshConfig, target: &AccessLogTarget, telemetry_enables: bool) -> Self {
        let sink = match target {
            AccessLogTarget::Off if telemetry_enables => Some(AccessLogSink::Stdout),
            AccessLogTarget::Off => None,
            AccessLogTarget::Stdout => Some(AccessLogSink::Stdout),
            AccessLogTarget::Stderr => Some(AccessLogSink::Stderr),
            AccessLogTarget::File { dir, relative } => Some(AccessLogSink::File {
                dir: dir.clone(),
                relative: relative.clone(),
            }),
        };
        Self {
            sink,
            by_default: mesh.access_log_enabled(),
            sampler: LogSampler::new(mesh.access_log_sampling),
            encoding: mesh.access_log_encoding,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

/// Counts entries the writer could not keep up with.
#[derive(Clone, Debug, Default)]
pub struct AccessLogMetrics {
    /// Entries dropped because the channel to the writer was full.
    pub dropped: Counter,
}

impl AccessLogMetrics {
    /// Registers `mesh_access_log_dropped_total` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_access_log_dropped",
            "Access log entries dropped because the writer fell behind",
            metrics.dropped.clone(),
        );
        metrics
    }
}

/// The sending side of the access log. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    sender: mpsc::Sender<AccessLogEntry>,
    dropped: Counter,
    by_default: bool,
    sampler: LogSampler,
}

impl AccessLog {
    /// The access log `settings` ask for, its writer spawned; `None` when logging is off.
    /// Call inside a tokio runtime.
    pub fn spawn(settings: &AccessLogSettings, metrics: &AccessLogMetrics) -> Option<Self> {
        let sink = settings.sink.clone()?;
        let (log, receiver) = Self::bounded(settings.queue_capacity, metrics);
        tokio::spawn(run_writer(sink, settings.encoding, receiver));
        Some(log.deciding(settings.by_default, settings.sampler))
    }

    /// A log holding at most `capacity` unwritten entries, and the writer's end.
    pub fn bounded(
        capacity: usize,
        metrics: &AccessLogMetrics,
    ) -> (Self, mpsc::Receiver<AccessLogEntry>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let log = Self {
            sender,
            dropped: metrics.dropped.clone(),
            by_default: true,
            sampler: LogSampler::default(),
        };
        (log, receiver)
    }

    /// This log, logging workloads no Telemetry decides for only when `by_default`, and
    /// keeping what `sampler` keeps.
    pub fn deciding(self, by_default: bool, sampler: LogSampler) -> Self {
        Self {
            by_default,
            sampler,
            ..self
        }
    }

    /// Whether a request or connection starting now gets a line: `telemetry` is what a
    /// Telemetry resource says for the side that logs (`None`: the mesh config decides), then
    /// the sampling draw.
    pub fn admits(&self, telemetry: Option<bool>) -> bool {
        telemetry.unwrap_or(self.by_default) && self.sampler.keep()
    }

    /// Queues `entry`, or drops and counts it when the writer is behind.
    pub fn push(&self, entry: AccessLogEntry) {
        if self.sender.try_send(entry).is_err() {
            self.dropped.inc();
        }
    }

    /// Logs one finished HTTP request.
    pub fn request(&self, peers: &HopPeers<'_>, facts: &RequestFacts, outcome: &ResponseFacts<'_>) {
        let mut entry = base_entry(peers, facts.start, outcome.duration);
        entry.method = Some(facts.method.clone());
        entry.path = Some(facts.path.clone());
        entry.protocol = facts.protocol.into();
        entry.response_code = outcome.response_code;
        entry.response_flags = outcome.response_flags.into();
        entry.response_code_details = outcome.response_code_details.map(str::to_string);
        entry.bytes_received = outcome.request_bytes;
        entry.bytes_sent = outcome.response_bytes;
        entry.upstream_host = outcome.upstream_host.map(|a| a.to_string());
        entry.upstream_cluster = Some(outcome.upstream_cluster(peers.reporter, facts));
        entry.x_request_id = Some(facts.request_id.clone());
        entry.authority = Some(facts.authority.clone());
        entry.user_agent = facts.user_agent.clone();
        self.push(entry);
    }

    /// Logs one closed TCP connection that went to `upstream`, with its byte counts.
    pub fn connection(&self, peers: &HopPeers<'_>, connection: &TcpConnection) {
        let mut entry = base_entry(peers, connection.start, connection.duration);
        entry.protocol = "TCP".into();
        entry.response_flags = connection.response_flags.clone();
        entry.bytes_received = connection.bytes_received;
        entry.bytes_sent = connection.bytes_sent;
        entry.upstream_host = connection.upstream.map(|a| a.to_string());
        entry.connection_termination_details = connection.termination_details.clone();
        self.push(entry);
    }
}

/// What a TCP connection's log line needs, besides its peers.
#[derive(Clone, Debug)]
pub struct TcpConnection {
    /// When it was accepted.
    pub start: SystemTime,
    /// How long it lasted.
    pub duration: Duration,
    /// Bytes from the client.
    pub bytes_received: u64,
    /// Bytes to the client.
    pub bytes_sent: u64,
    /// Where it was forwarded.
    pub upstream: Option<SocketAddr>,
    /// Envoy's response flags (`-` for none, `UF` when the upstream could not be reached).
    pub response_flags: String,
    /// Why the proxy closed it (`rbac_access_denied_matched_policy[...]`).
    pub termination_details: Option<String>,
}

fn base_entry(peers: &HopPeers<'_>, start: SystemTime, duration: Duration) -> AccessLogEntry {
    AccessLogEntry {
        start_time: rfc3339_millis(start),
        duration: duration.as_millis() as u64,
        reporter: format!("{:?}", peers.reporter),
        downstream_remote_address: peers.downstream.map(|a| a.to_string()),
        source_workload: peers.source.map(|w| w.name.into()),
        source_namespace: peers.source.map(|w| w.namespace.into()),
        destination_workload: peers.destination.map(|w| w.name.into()),
        destination_namespace: peers.destination.map(|w| w.namespace.into()),
        ..AccessLogEntry::default()
    }
}
