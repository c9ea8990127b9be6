//! Istio's TCP metrics, with Istio's names and labels, reported by the proxy for each
//! connection it carries.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::facts::Reporter;
use crate::identity::Identity;
use crate::snapshot::{Service, Workload};

/// The value Istio reports for a label it does not know.
const UNKNOWN: &str = "unknown";

/// Istio's TCP label set for one connection, and whether the reporting side records it (its
/// workload's Telemetry settings: `metrics[].overrides[].disabled`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct TcpLabels {
    set: TcpLabelSet,
    recorded: bool,
}

/// Istio's TCP label set, verbatim.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TcpLabelSet {
    reporter: Reporter,
    source_workload: String,
    source_workload_namespace: String,
    source_principal: String,
    source_app: String,
    source_version: String,
    destination_workload: String,
    destination_workload_namespace: String,
    destination_principal: String,
    destination_service: String,
    destination_service_name: String,
    destination_service_namespace: String,
    destination_app: String,
    destination_version: String,
    request_protocol: String,
    response_flags: String,
    connection_security_policy: String,
}

impl TcpLabels {
    /// Labels for a connection from `source` to `destination` (a pod, when known), addressed to
    /// `service` (when it was a Service). Principals come from the registry, as for HTTP
    /// ([`crate::http::HttpLabels::new`]); `connection_security_policy` is `none`.
    pub fn new(
        reporter: Reporter,
        source: Option<&Workload>,
        destination: Option<&Workload>,
        service: Option<&Service>,
    ) -> Self {
        let field = |w: Option<&Workload>, f: fn(&Workload) -> Option<&str>| {
            w.and_then(f).unwrap_or(UNKNOWN).to_string()
        };
        let local = match reporter {
            Reporter::source => source,
            Reporter::destination => destination,
        };
        let set = TcpLabelSet {
            reporter,
            source_workload: field(source, |w| Some(&w.name)),
            source_workload_namespace: field(source, |w| Some(&w.namespace)),
            source_principal: field(source, |w| w.principal.as_deref()),
            source_app: field(source, |w| w.app.as_deref()),
            source_version: field(source, |w| w.version.as_deref()),
            destination_workload: field(destination, |w| Some(&w.name)),
            destination_workload_namespace: field(destination, |w| Some(&w.namespace)),
            destination_principal: field(destination, |w| w.principal.as_deref()),
            destination_service: service.map_or(UNKNOWN.into(), |s| s.hostname.clone()),
            destination_service_name: service.map_or(UNKNOWN.into(), |s| s.name.clone()),
            destination_service_namespace: service.map_or(UNKNOWN.into(), |s| s.namespace.clone()),
            destination_app: field(destination, |w| w.app.as_deref()),
            destination_version: field(destination, |w| w.version.as_deref()),
            request_protocol: "tcp".into(),
            response_flags: "-".into(),
            connection_security_policy: "none".into(),
        };
        Self {
            set,
            recorded: local.is_none_or(|w| w.telemetry.metrics(reporter)),
        }
    }

    /// The connection went through the mTLS tunnel: `connection_security_policy="mutual_tls"`,
    /// the principals those the certificates proved.
    pub fn mutual_tls(mut self, source: &Identity, destination: &Identity) -> Self {
        self.set.connection_security_policy = "mutual_tls".into();
        self.set.source_principal = source.to_string();
        self.set.destination_principal = destination.to_string();
        self
    }

    /// The same labels with Envoy's `response_flags` (`DENY`: refused by an authorization
    /// policy or by PeerAuthentication STRICT).
    pub fn with_response_flags(mut self, flags: &str) -> Self {
        self.set.response_flags = flags.into();
        self
    }

    /// Whether the reporting side records Istio's metrics for this connection.
    pub fn recorded(&self) -> bool {
        self.recorded
    }
}

/// The TCP connection and byte counters.
#[derive(Clone, Debug, Default)]
pub struct TcpMetrics {
    opened: Family<TcpLabelSet, Counter>,
    closed: Family<TcpLabelSet, Counter>,
    sent: Family<TcpLabelSet, Counter>,
    received: Family<TcpLabelSet, Counter>,
    /// Connections the destination's ingress NetworkPolicies refused on the paths that skip
    /// the CNI.
    pub network_policy: crate::network_policy::NetworkPolicyMetrics,
}

impl TcpMetrics {
    /// Registers the counters (`istio_tcp_*_total`, `mesh_network_policy_denied_total`) in
    /// `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let metrics = Self {
            network_policy: crate::network_policy::NetworkPolicyMetrics::register(registry),
            ..Self::default()
        };
        let families = [
            (
                "istio_tcp_connections_opened",
                "TCP connections opened",
                &metrics.opened,
            ),
            (
                "istio_tcp_connections_closed",
                "TCP connections closed",
                &metrics.closed,
            ),
            (
                "istio_tcp_sent_bytes",
                "Bytes sent to the client",
                &metrics.sent,
            ),
            (
                "istio_tcp_received_bytes",
                "Bytes received from the client",
                &metrics.received,
            ),
        ];
        for (name, help, family) in families {
            registry.register(name, help, family.clone());
        }
        Arc::new(metrics)
    }

    /// Counts a connection as opened; the returned handle counts its bytes and its close. A
    /// connection whose reporting side records no metrics is counted nowhere.
    pub fn open(&self, labels: &TcpLabels) -> ConnectionMetrics {
        self.open_for(Some(labels), None)
    }

    /// [`TcpMetrics::open`] for a connection both reporters count: the same-node fast path
    /// carries in one hop what the source and the destination side would each report.
    pub fn open_both(&self, source: &TcpLabels, destination: &TcpLabels) -> ConnectionMetrics {
        self.open_for(Some(source), Some(destination))
    }

    fn open_for(&self, first: Option<&TcpLabels>, second: Option<&TcpLabels>) -> ConnectionMetrics {
        let [first, second] = [first, second].map(|l| l.filter(|l| l.recorded).map(|l| &l.set));
        let counter = |family: &Family<TcpLabelSet, Counter>| {
            // One label set at a time: a family's read guard blocks its own writer.
            let first = first.map(|set| family.get_or_create(set).clone());
            let second = second.map(|set| family.get_or_create(set).clone());
            ReportedCounter { first, second }
        };
        let connection = ConnectionMetrics {
            sent: counter(&self.sent),
            received: counter(&self.received),
            closed: counter(&self.closed),
        };
        counter(&self.opened).inc_by(1);
        connection
    }
}

/// One counter of a connection, for the one or two reporters that count it.
#[derive(Clone, Debug)]
pub struct ReportedCounter {
    first: Option<Counter>,
    second: Option<Counter>,
}

impl ReportedCounter {
    /// Adds `n` for every reporter that records.
    pub fn inc_by(&self, n: u64) {
        for counter in [&self.first, &self.second].into_iter().flatten() {
            counter.inc_by(n);
        }
    }
}

/// The counters of one open connection; dropping it counts the connection as closed.
#[derive(Debug)]
pub struct ConnectionMetrics {
    /// Bytes the proxy wrote to the client (the response direction).
    pub sent: ReportedCounter,
    /// Bytes the proxy read from the client (the request direction).
    pub received: ReportedCounter,
    closed: ReportedCounter,
}

impl Drop for ConnectionMetrics {
    fn drop(&mut self) {
        self.closed.inc_by(1);
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
