//! One request's record: taken when the response starts, written to Istio's metrics, traces and
//! access logs when the response body ends (or is dropped), with the destination the inner layers
//! chose.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hyper::{HeaderMap, Response};
use tokio::time::Instant;

use super::context::{Observed, PeerSecurity, Peers, TelemetryContext};
use super::metered::{headers_size, Metered};
use super::series::SeriesKey;
use crate::errors::{ResponseCodeDetails, ResponseFlags};
use crate::facts::{HopPeers, ResponseFacts};
use crate::http::body::{boxed, Body};
use crate::http::metrics::{HttpLabels, RequestOutcome};
use crate::http::pool::CarriedInTunnel;
use crate::identity::Identity;
use crate::observe::RequestWatch;
use crate::snapshot::Workload;

/// A request whose response is on its way; recorded once the response body is done.
pub struct PendingRecord {
    context: Arc<TelemetryContext>,
    observed: Observed,
    start: Instant,
    protocol: &'static str,
    request_bytes: Arc<AtomicU64>,
    response_code: u16,
    grpc_status: Option<String>,
    flags: ResponseFlags,
    details: Option<ResponseCodeDetails>,
    watch: RequestWatch,
    /// Whether this side's Telemetry settings record Istio's metrics.
    metrics_on: bool,
    /// Whether the upstream connection was a tunnel stream (`None`: no upstream answered).
    carried_in_tunnel: Option<bool>,
}

impl PendingRecord {
    /// A request about to go inward, its clock started now.
    pub(super) fn new(
        context: Arc<TelemetryContext>,
        observed: Observed,
        protocol: &'static str,
        request_bytes: Arc<AtomicU64>,
        watch: RequestWatch,
        metrics_on: bool,
    ) -> Self {
        Self {
            context,
            observed,
            start: Instant::now(),
            protocol,
            request_bytes,
            response_code: 0,
            grpc_status: None,
            flags: ResponseFlags::default(),
            details: None,
            watch,
            metrics_on,
            carried_in_tunnel: None,
        }
    }

    /// Takes the status, flags and headers' size of `response`; records when its body ends.
    pub(super) fn on_response(mut self, response: Response<Body>) -> Response<Body> {
        self.response_code = response.status().as_u16();
        self.flags = response.extensions().get().copied().unwrap_or_default();
        self.details = response.extensions().get().cloned();
        let carried = response.extensions().get::<CarriedInTunnel>();
        self.carried_in_tunnel = carried.map(|c| c.0);
        self.see_grpc_status(response.headers());
        let response_bytes = headers_size(response.headers());
        response.map(|body| boxed(Metered::new(body, self, response_bytes)))
    }

    /// Takes `grpc-status` from response headers (trailers-only) or trailers, as a label value
    /// from a fixed set ([`grpc_status_label`]).
    pub fn see_grpc_status(&mut self, headers: &HeaderMap) {
        if let Some(status) = headers.get("grpc-status") {
            self.grpc_status = Some(grpc_status_label(status.as_bytes()).to_string());
        }
    }

    /// Records the request with `response_bytes` sent to the client.
    pub fn record(self, response_bytes: u64) {
        let context = &self.context;
        let destination = self.observed.0.lock().expect("not poisoned");
        let workload = match (&context.peers.destination, destination.endpoint) {
            (Some(fixed), _) => Some(fixed.clone()),
            (None, Some(endpoint)) => context.config.snapshot().workload(endpoint.ip()).cloned(),
            (None, None) => None,
        };
        let duration = self.start.elapsed();
        let request_bytes = self.request_bytes.load(Ordering::Relaxed);
        if self.metrics_on {
            let key = SeriesKey {
                destination: workload.clone(),
                service: destination.service.clone(),
                protocol: self.protocol,
                response_code: self.response_code,
                grpc_status: self.grpc_status.clone(),
                flags: self.flags,
            };
            let labels = || {
                let labels = HttpLabels::new(
                    context.peers.reporter,
                    context.peers.source.as_deref(),
                    workload.as_deref(),
                    destination.service.as_deref(),
                    &self.outcome(),
                );
                let security = &context.peers.security;
                match (security, self.carried_in_tunnel) {
                    // The source side planned the tunnel, the upstream went in plain text
                    // (nobody on the destination's tunnel port: fail open): `none`.
                    (PeerSecurity::MeshedThroughTunnel { .. }, Some(false)) => labels,
                    _ => secured(labels, security, workload.as_deref()),
                }
            };
            let duration_ms = duration.as_secs_f64() * 1000.0;
            let series = context.series.series(&context.metrics, key, labels);
            series.record(duration_ms, request_bytes, response_bytes);
        }
        if self.watch.is_watching() {
            let response_flags = self.flags.to_string();
            let outcome = ResponseFacts {
                response_code: self.response_code,
                response_flags: &response_flags,
                response_code_details: self.details.as_ref().map(|d| d.0.as_str()),
                request_bytes,
                response_bytes,
                duration,
                service_host: destination.service.as_ref().map(|s| s.hostname.clone()),
                upstream_host: destination.endpoint,
            };
            let peers = hop_peers(&context.peers, workload.as_deref());
            self.watch.finish(&peers, &outcome);
        }
    }

    /// How the request ended, as its labels say it.
    fn outcome(&self) -> RequestOutcome {
        RequestOutcome {
            protocol: self.protocol,
            response_code: self.response_code,
            grpc_status: self.grpc_status.clone(),
            response_flags: self.flags.to_string(),
        }
    }
}

/// The peers as tracing and access logs name them; `destination` as resolved for this request.
fn hop_peers<'a>(peers: &'a Peers, destination: Option<&'a Workload>) -> HopPeers<'a> {
    HopPeers {
        reporter: peers.reporter,
        source: peers.source.as_deref().map(Into::into),
        destination: destination.map(Into::into),
        pod_ip: peers.pod_ip,
        downstream: peers.downstream,
    }
}

/// `labels` of a request secured as `security` says, to `destination` (the workload reached).
fn secured(
    labels: HttpLabels,
    security: &PeerSecurity,
    destination: Option<&Workload>,
) -> HttpLabels {
    match security {
        PeerSecurity::None => labels,
        PeerSecurity::Tunnelled {
            source,
            destination,
        } => labels.mutual_tls(source, destination),
        PeerSecurity::MeshedThroughTunnel { source } => {
            let meshed = destination.filter(|w| w.meshed);
            let proven = meshed.and_then(|w| Identity::parse(w.principal.as_deref()?).ok());
            match proven {
                Some(destination) => labels.mutual_tls(source, &destination),
                None => labels,
            }
        }
    }
}

/// gRPC's status codes as label values.
const GRPC_STATUS_LABELS: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

/// The `grpc_response_status` label of an upstream's `grpc-status`: a code gRPC defines
/// (0–16), else `unknown` — an upstream cannot grow the series past 18 values.
pub fn grpc_status_label(status: &[u8]) -> &'static str {
    let code = std::str::from_utf8(status)
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    code.and_then(|c| GRPC_STATUS_LABELS.get(c).copied())
        .unwrap_or("unknown")
}

#[cfg(test)]
mod grpc_status_tests {
    #[test]
    fn a_status_grpc_does_not_define_is_labelled_unknown() {
        let label = super::grpc_status_label;
        assert_eq!(label(b"0"), "0");
        assert_eq!(label(b"14"), "14");
        for odd in [
            &b"17"[..],
            b"-1",
            b"x-7",
            b"",
            b"99999999999999999999",
            b"\xff",
        ] {
            assert_eq!(label(odd), "unknown", "{odd:?}");
        }
    }
}
