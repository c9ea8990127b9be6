//! Access logs: one line per request or TCP connection with Envoy's default fields, switched by
//! the mesh config (`accessLogFile`, `accessLogEncoding`). Entries go through a bounded channel
//! to a writer task; when it is full they are dropped and counted
//! (`mesh_access_log_dropped_total`), never waited for.

mod entry;
mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

pub use entry::{rfc3339_millis, AccessLogEntry};
pub use writer::{run_writer, AccessLogSink};

use crate::observe::{HopPeers, Outcome, RequestFacts};
use crate::resources::{AccessLogEncoding, MeshConfig};

/// Entries waiting for the writer before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// Where and how to log, resolved from the mesh config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// `None` when `accessLogFile` is empty: logging is off.
    pub sink: Option<AccessLogSink>,
    /// JSON or TEXT.
    pub encoding: AccessLogEncoding,
    /// Bound of the channel to the writer.
    pub queue_capacity: usize,
}

impl AccessLogSettings {
    /// `accessLogFile`: `/dev/stdout` → stdout, `/dev/stderr` → stderr, a path → that file,
    /// empty → off.
    pub fn from_mesh(mesh: &MeshConfig) -> Self {
        let sink = match mesh.access_log_file.trim() {
            "" => None,
            "/dev/stdout" => Some(AccessLogSink::Stdout),
            "/dev/stderr" => Some(AccessLogSink::Stderr),
            path => Some(AccessLogSink::File(PathBuf::from(path))),
        };
        Self {
            sink,
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
}

impl AccessLog {
    /// The access log `settings` ask for, its writer spawned; `None` when logging is off.
    /// Call inside a tokio runtime.
    pub fn spawn(settings: &AccessLogSettings, metrics: &AccessLogMetrics) -> Option<Self> {
        let sink = settings.sink.clone()?;
        let (log, receiver) = Self::bounded(settings.queue_capacity, metrics);
        tokio::spawn(run_writer(sink, settings.encoding, receiver));
        Some(log)
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
        };
        (log, receiver)
    }

    /// Queues `entry`, or drops and counts it when the writer is behind.
    pub fn push(&self, entry: AccessLogEntry) {
        if self.sender.try_send(entry).is_err() {
            self.dropped.inc();
        }
    }

    /// Logs one finished HTTP request.
    pub fn request(&self, peers: &HopPeers<'_>, facts: &RequestFacts, outcome: &Outcome<'_>) {
        let mut entry = base_entry(peers, facts.start, outcome.duration);
        entry.method = Some(facts.method.clone());
        entry.path = Some(facts.path.clone());
        entry.protocol = facts.protocol.into();
        entry.response_code = outcome.response_code;
        entry.response_flags = outcome.response_flags.into();
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
