//! One HTTP benchmark case — a carrier and a protocol — measured at N connections with the
//! proxies' CPU and memory over the run.

use super::http_load::{HttpLoad, HttpProtocol};
use super::load::{ClientPlace, LoadResult};
use super::proc_stats::{Meter, Usage};
use crate::lab::Lab;
use serde::Serialize;
use std::time::Duration;

/// What carries the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpCarrier {
    /// (a) Pod to pod, no proxy.
    Direct,
    /// (b) Through the agents: a VirtualService (header match + default route to a subset),
    /// metrics on, 1% tracing.
    Mesh,
    /// (c) HAProxy in HTTP mode in the client's node.
    Haproxy,
    /// (d) nginx as a reverse proxy in the client's node.
    Nginx,
    /// (e) (b) plus timeouts, retries, connection pools and outlier detection, nothing failing.
    MeshResilience,
    /// (f) (b) with a mesh-wide Telemetry turning metrics, tracing and access logs off.
    MeshTelemetryOff,
    /// (g) (b) with 20 AuthorizationPolicies (100 rules) and a RequestAuthentication on the
    /// server, the load sending a token.
    MeshAuthz,
    /// (h) (b) with a local rate limit on the server that never triggers.
    MeshRateLimit,
    /// (b) once more, last: the variants are compared with the mean of both (b) runs, so a
    /// machine that drifted during the run shows as (b) and (b') apart.
    MeshAgain,
}

impl HttpCarrier {
    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            HttpCarrier::Direct => "(a) direct",
            HttpCarrier::Mesh => "(b) mesh",
            HttpCarrier::Haproxy => "(c) haproxy",
            HttpCarrier::Nginx => "(d) nginx",
            HttpCarrier::MeshResilience => "(e) mesh+resilience",
            HttpCarrier::MeshTelemetryOff => "(f) mesh telemetry off",
            HttpCarrier::MeshAuthz => "(g) mesh+authz+jwt",
            HttpCarrier::MeshRateLimit => "(h) mesh+rate limit",
            HttpCarrier::MeshAgain => "(b') mesh again",
        }
    }
}

/// A case to measure: the load to run, from where, and the proxies on its path.
pub struct HttpCase {
    pub carrier: HttpCarrier,
    pub client: ClientPlace,
    pub load: HttpLoad,
    pub proxies: Vec<i32>,
}

/// How long each run is.
#[derive(Clone, Copy, Debug)]
pub struct HttpPlan {
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
}

/// A measured (or skipped) case, as printed and written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct HttpCaseReport {
    pub carrier: HttpCarrier,
    pub protocol: HttpProtocol,
    /// `ok`, `skipped` or `failed`.
    pub status: &'static str,
    pub reason: Option<String>,
    pub load: Option<LoadResult>,
    /// The proxies' CPU (summed) and memory (largest) over the run.
    pub proxy: Option<Usage>,
    /// The proxies' CPU time per 1,000 requests, milliseconds (= µs per request).
    pub cpu_ms_per_1k: Option<f64>,
    pub rps_vs_direct: Option<f64>,
    pub rps_vs_haproxy: Option<f64>,
    /// p99 over HAProxy's p99 on the same protocol.
    pub p99_vs_haproxy: Option<f64>,
    /// Fixed-rate runs: p99 minus the direct path's, µs.
    pub added_p99_us: Option<f64>,
}

impl HttpCaseReport {
    /// A case that could not run (or ran into an error), and why.
    pub fn not_run(
        carrier: HttpCarrier,
        protocol: HttpProtocol,
        status: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::empty(carrier, protocol, status, Some(reason.into()))
    }

    /// A case that ran: its figures are filled in next.
    pub fn ran(carrier: HttpCarrier, protocol: HttpProtocol) -> Self {
        Self::empty(carrier, protocol, "ok", None)
    }

    fn empty(
        carrier: HttpCarrier,
        protocol: HttpProtocol,
        status: &'static str,
        reason: Option<String>,
    ) -> Self {
        HttpCaseReport {
            carrier,
            protocol,
            status,
            reason,
            load: None,
            proxy: None,
            cpu_ms_per_1k: None,
            rps_vs_direct: None,
            rps_vs_haproxy: None,
            p99_vs_haproxy: None,
            added_p99_us: None,
        }
    }
}

/// Measures `case`; an error or a run where nothing got through fails the case.
pub fn measure(lab: &Lab, case: &HttpCase) -> HttpCaseReport {
    let (carrier, protocol) = (case.carrier, case.load.protocol);
    eprintln!(
        "==> {} {} → {}{}",
        carrier.label(),
        protocol.label(),
        case.load.addr,
        case.load
            .rate
            .map_or(String::new(), |r| format!(" at {r} req/s"))
    );
    let meter = Meter::start(&case.proxies);
    let load = match case.load.run(lab, &case.client) {
        Ok(load) => load,
        Err(err) => {
            return HttpCaseReport::not_run(carrier, protocol, "failed", format!("{err:#}"))
        }
    };
    let proxy = meter.finish();
    let mut report = if load.requests == 0 {
        let reason = format!("no request got through ({} errors)", load.errors);
        HttpCaseReport::not_run(carrier, protocol, "failed", reason)
    } else {
        let mut ok = HttpCaseReport::ran(carrier, protocol);
        ok.proxy = proxy;
        ok.cpu_ms_per_1k = cpu_ms_per_1k(proxy.map(|p| p.cpu_percent), load.rps);
        ok
    };
    report.load = Some(load);
    report
}

/// CPU share (100 = one core) over request rate, as milliseconds of CPU per 1,000 requests.
pub fn cpu_ms_per_1k(cpu_percent: Option<f64>, rps: f64) -> Option<f64> {
    let cpu = cpu_percent?;
    (rps > 0.0).then(|| cpu / 100.0 * 1e3 / rps * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_1k_requests_is_cpu_seconds_per_second_over_rate() {
        // Half a core at 10,000 requests/s: 50 µs per request, 50 ms per 1,000.
        let per_1k = cpu_ms_per_1k(Some(50.0), 10_000.0).unwrap();
        assert!((per_1k - 50.0).abs() < 1e-9, "{per_1k}");
        assert_eq!(cpu_ms_per_1k(None, 10_000.0), None);
        assert_eq!(cpu_ms_per_1k(Some(50.0), 0.0), None);
    }
}
