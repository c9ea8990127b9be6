//! Istio's HTTP/gRPC request metrics, with Istio's names, labels and histogram buckets.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::facts::Reporter;
use crate::identity::Identity;
use crate::snapshot::{Service, Workload};

/// The value Istio reports for a label it does not know.
const UNKNOWN: &str = "unknown";

/// Istio's buckets for `istio_request_duration_milliseconds`.
const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Istio's buckets for `istio_request_bytes` and `istio_response_bytes`: 1 to 10⁹, ×10.
const SIZE_BUCKETS: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Istio's HTTP label set, verbatim (DESIGN §6).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    reporter: Reporter,
    source_workload: String,
    source_workload_namespace: String,
    source_principal: String,
    source_app: String,
    source_version: String,
    destination_workload: String,
    destination_workload_namespace: String,
    destination_principal: String,
    destination_app: String,
    destination_version: String,
    destination_service: String,
    destination_service_name: String,
    destination_service_namespace: String,
    request_protocol: String,
    response_code: String,
    grpc_response_status: String,
    response_flags: String,
    connection_security_policy: String,
}

/// What one finished request reports, besides who talked to whom.
#[derive(Clone, Debug)]
pub struct RequestOutcome {
    /// `http` or `grpc`.
    pub protocol: &'static str,
    /// The status sent to the client.
    pub response_code: u16,
    /// `grpc-status` from the trailers (or a trailers-only response), when there was one.
    pub grpc_status: Option<String>,
    /// Envoy's response flags, as displayed (`-` for none).
    pub response_flags: String,
}

impl HttpLabels {
    /// Labels for a request from `source` to `destination` (pods, when known), addressed to
    /// `service` (when it was a Service). Principals are the workloads' SPIFFE identities as
    /// the registry knows them (no mTLS yet: see [`crate::snapshot::spiffe_id`]), `unknown`
    /// for a peer it does not hold; `connection_security_policy` is `none` until mTLS exists.
    pub fn new(
        reporter: Reporter,
        source: Option<&Workload>,
        destination: Option<&Workload>,
        service: Option<&Service>,
        outcome: &RequestOutcome,
    ) -> Self {
        let field = |w: Option<&Workload>, f: fn(&Workload) -> Option<&str>| {
            w.and_then(f).unwrap_or(UNKNOWN).to_string()
        };
        Self {
            reporter,
            source_workload: field(source, |w| Some(&w.name)),
            source_workload_namespace: field(source, |w| Some(&w.namespace)),
            source_principal: field(source, |w| w.principal.as_deref()),
            source_app: field(source, |w| w.app.as_deref()),
            source_version: field(source, |w| w.version.as_deref()),
            destination_workload: field(destination, |w| Some(&w.name)),
            destination_workload_namespace: field(destination, |w| Some(&w.namespace)),
            destination_principal: field(destination, |w| w.principal.as_deref()),
            destination_app: field(destination, |w| w.app.as_deref()),
            destination_version: field(destination, |w| w.version.as_deref()),
            destination_service: service.map_or(UNKNOWN.into(), |s| s.hostname.clone()),
            destination_service_name: service.map_or(UNKNOWN.into(), |s| s.name.clone()),
            destination_service_namespace: service.map_or(UNKNOWN.into(), |s| s.namespace.clone()),
            request_protocol: outcome.protocol.into(),
            response_code: outcome.response_code.to_string(),
            grpc_response_status: outcome.grpc_status.clone().unwrap_or_default(),
            response_flags: outcome.response_flags.clone(),
            connection_security_policy: "none".into(),
        }
    }
}

impl HttpLabels {
    /// The request went through the mTLS tunnel: `connection_security_policy="mutual_tls"`,
    /// the principals those the certificates proved.
    pub fn mutual_tls(mut self, source: &Identity, destination: &Identity) -> Self {
        self.connection_security_policy = "mutual_tls".into();
        self.source_principal = source.to_string();
        self.destination_principal = destination.to_string();
        self
    }
}

/// The request counter and histograms.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    duration_ms: Family<HttpLabels, Histogram>,
    request_bytes: Family<HttpLabels, Histogram>,
    response_bytes: Family<HttpLabels, Histogram>,
}

impl HttpMetrics {
    /// Registers `istio_requests_total`, `istio_request_duration_milliseconds`,
    /// `istio_request_bytes` and `istio_response_bytes` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration_ms: Family::new_with_constructor(duration_histogram),
            request_bytes: Family::new_with_constructor(size_histogram),
            response_bytes: Family::new_with_constructor(size_histogram),
        };
        let requests = metrics.requests.clone();
        registry.register("istio_requests", "Requests", requests);
        let histograms = [
            (
                "istio_request_duration_milliseconds",
                "Request duration in milliseconds",
                &metrics.duration_ms,
            ),
            (
                "istio_request_bytes",
                "Request size in bytes (headers and body)",
                &metrics.request_bytes,
            ),
            (
                "istio_response_bytes",
                "Response size in bytes (headers and body)",
                &metrics.response_bytes,
            ),
        ];
        for (name, help, family) in histograms {
            registry.register(name, help, family.clone());
        }
        metrics
    }

    /// Records one finished request.
    pub fn record(
        &self,
        labels: &HttpLabels,
        duration_ms: f64,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        self.series(labels)
            .record(duration_ms, request_bytes, response_bytes);
    }

    /// The four series of `labels` (created when new), to record into without looking them
    /// up again.
    pub fn series(&self, labels: &HttpLabels) -> HttpSeries {
        HttpSeries {
            requests: self.requests.get_or_create(labels).clone(),
            duration_ms: self.duration_ms.get_or_create(labels).clone(),
            request_bytes: self.request_bytes.get_or_create(labels).clone(),
            response_bytes: self.response_bytes.get_or_create(labels).clone(),
        }
    }
}

/// One label set's counter and histograms (clones share the values the registry exports).
#[derive(Clone)]
pub struct HttpSeries {
    requests: Counter,
    duration_ms: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

impl HttpSeries {
    /// Records one finished request.
    pub fn record(&self, duration_ms: f64, request_bytes: u64, response_bytes: u64) {
        self.requests.inc();
        self.duration_ms.observe(duration_ms);
        self.request_bytes.observe(request_bytes as f64);
        self.response_bytes.observe(response_bytes as f64);
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS_MS)
}

fn size_histogram() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}
