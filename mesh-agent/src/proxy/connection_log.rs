//! The access-log line of one forwarded TCP connection: who talked to whom is taken when the
//! connection is forwarded, the bytes and duration when it ends. Whether there is a line is the
//! reporting side's workload's Telemetry switch, then the mesh config's and its sampling draw.
//! A same-node fast-path connection writes two lines, one per reporter ([`ConnectionLog::both`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::access_log::{AccessLog, TcpConnection};
use crate::facts::{HopPeers, Reporter, WorkloadRef};
use crate::observe::RequestObservers;
use crate::snapshot::Workload;

/// Who a forwarded connection connects, as its log line names them.
pub struct TcpHop {
    /// `source` on the outbound side, `destination` on the inbound side.
    pub reporter: Reporter,
    /// The client workload, when known.
    pub source: Option<Arc<Workload>>,
    /// The server workload, when known.
    pub destination: Option<Arc<Workload>>,
    /// The IP of the pod this side serves.
    pub pod_ip: IpAddr,
    /// The client's address as the proxy saw it.
    pub downstream: SocketAddr,
    /// Where the connection is forwarded.
    pub upstream: SocketAddr,
}

/// A connection waiting to be logged when it ends.
pub struct ConnectionLog {
    log: Arc<AccessLog>,
    hop: TcpHop,
    start: SystemTime,
    started: Instant,
    /// The other reporter's line of the same connection.
    also: Option<Box<ConnectionLog>>,
}

impl ConnectionLog {
    /// Starts the line of a connection over `hop`; `None` when access logging is off for the
    /// reporting side or the connection is not sampled.
    pub fn start(observers: &RequestObservers, hop: TcpHop) -> Option<Self> {
        let local = match hop.reporter {
            Reporter::source => hop.source.as_deref(),
            Reporter::destination => hop.destination.as_deref(),
        };
        let policy = local.map(|w| w.telemetry).unwrap_or_default();
        Some(Self {
            log: observers.access_log_for(hop.reporter, &policy)?,
            hop,
            start: SystemTime::now(),
            started: Instant::now(),
            also: None,
        })
    }

    /// The lines of a connection both reporters log, whichever of them are kept.
    pub fn both(first: Option<Self>, second: Option<Self>) -> Option<Self> {
        match (first, second) {
            (Some(first), second) => Some(Self {
                also: second.map(Box::new),
                ..first
            }),
            (None, second) => second,
        }
    }

    /// The connection ended after `bytes_received` from the client and `bytes_sent` to it;
    /// `failed` when it ended on an error (Envoy's `UC`, upstream connection termination).
    pub fn finish(self, bytes_received: u64, bytes_sent: u64, failed: bool) {
        let flags = if failed { "UC" } else { "-" };
        self.write(bytes_received, bytes_sent, flags, None);
    }

    /// The connection was refused by an authorization policy: `DENY`, with Envoy's
    /// termination details naming the policy (on the destination's line).
    pub fn denied(self, details: &str) {
        self.refused("DENY", details);
    }

    /// The connection was refused with `flag`: `DENY`, or `UAEX` by a CUSTOM policy's
    /// external authorizer.
    pub fn refused(self, flag: &str, details: &str) {
        self.write(0, 0, flag, Some(details));
    }

    /// The line with `flags`; a denial is the destination's: the source's line of a same-node
    /// connection the destination refused carries no flag.
    fn write(self, bytes_received: u64, bytes_sent: u64, flags: &str, details: Option<&str>) {
        let hop = &self.hop;
        let (own_flags, own_details) = match hop.reporter {
            Reporter::destination => (flags, details),
            Reporter::source if matches!(flags, "DENY" | "UAEX") => ("-", None),
            Reporter::source => (flags, None),
        };
        let peers = HopPeers {
            reporter: hop.reporter,
            source: hop.source.as_deref().map(WorkloadRef::from),
            destination: hop.destination.as_deref().map(WorkloadRef::from),
            pod_ip: Some(hop.pod_ip),
            downstream: Some(hop.downstream),
        };
        let connection = TcpConnection {
            start: self.start,
            duration: self.started.elapsed(),
            bytes_received,
            bytes_sent,
            upstream: Some(hop.upstream),
            response_flags: own_flags.into(),
            termination_details: own_details.map(str::to_string),
        };
        self.log.connection(&peers, &connection);
        if let Some(also) = self.also {
            also.write(bytes_received, bytes_sent, flags, details);
        }
    }
}
