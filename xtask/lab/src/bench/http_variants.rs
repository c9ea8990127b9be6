//! The mesh's part of `bench http`, in order: (b) routing with metrics on, the fixed-rate runs,
//! the metrics scrape (while metrics are on), (e) with resilience configured, and (f) with a
//! mesh-wide Telemetry turning telemetry off — each variant's resources applied to the running
//! lab, and the routing-only ones restored after (e); then (b') — (b) again, telemetry back on —
//! so that the variants are compared with the mean of two (b) runs around them. (g) authz and
//! (h) rate limit run between (e) and (f); the noisy neighbour runs last, on pods of its own.

use super::http::{bench_yaml, client, fixed_rate, mesh_case, not_run};
use super::http_cases::{measure, HttpCarrier, HttpCaseReport, HttpPlan};
use super::http_load::HttpProtocol;
use super::http_report::HttpReport;
use super::http_telemetry::{self as telemetry, TelemetryOffCheck};
use super::topology::MESH_NS;
use super::{http_limits, noisy};
use crate::lab::Lab;
use anyhow::Result;

/// The node whose agent is scraped and checked: the client's.
const CLIENT_NODE: &str = "node-1";

/// (b), fixed rate, scrape, (e), (f).
pub fn mesh_round(
    report: &mut HttpReport,
    lab: &mut Lab,
    plan: &HttpPlan,
    agents: &[i32],
) -> Result<()> {
    run_carrier(report, lab, plan, HttpCarrier::Mesh, agents)?;
    fixed_rate(report, lab, plan, agents)?;
    report.scrape = match scrape(lab, plan, agents) {
        Ok(scrape) => Some(scrape),
        Err(err) => {
            report.notes.push(format!("metrics scrape: {err:#}"));
            None
        }
    };
    match lab.apply(&[bench_yaml("http-resilience.yaml")]) {
        Ok(()) => run_carrier(report, lab, plan, HttpCarrier::MeshResilience, agents)?,
        Err(err) => not_run(report, HttpCarrier::MeshResilience, &format!("{err:#}")),
    }
    lab.apply(&[bench_yaml("http-routing.yaml")])?;
    http_limits::authz(report, lab, plan, agents)?;
    http_limits::rate_limit(report, lab, plan, agents)?;
    telemetry_off(report, lab, plan, agents)?;
    // (b') with telemetry back on: the variants are compared with both (b) runs.
    match telemetry::remove_telemetry_off(lab) {
        Ok(()) => run_carrier(report, lab, plan, HttpCarrier::MeshAgain, agents)?,
        Err(err) => not_run(report, HttpCarrier::MeshAgain, &format!("{err:#}")),
    }
    match noisy::measure(lab, plan) {
        Ok(runs) => report.noisy_neighbour = runs,
        Err(err) => report.notes.push(format!("noisy neighbour: {err:#}")),
    }
    Ok(())
}

/// Both protocols of a mesh carrier.
fn run_carrier(
    report: &mut HttpReport,
    lab: &Lab,
    plan: &HttpPlan,
    carrier: HttpCarrier,
    agents: &[i32],
) -> Result<()> {
    for protocol in HttpProtocol::ALL {
        let case = mesh_case(lab, plan, carrier, protocol, agents)?;
        report.cases.push(measure(lab, &case));
    }
    Ok(())
}

/// Grows the client node agent's series to about 1,000 (answers with other codes), then
/// times scrapes of its `/metrics`.
fn scrape(lab: &Lab, plan: &HttpPlan, agents: &[i32]) -> Result<telemetry::Scrape> {
    let case = mesh_case(lab, plan, HttpCarrier::Mesh, HttpProtocol::Http1, agents)?;
    let load = telemetry::series_load(case.load.addr, case.load.host);
    eprintln!("==> growing {CLIENT_NODE}'s metric series, then timing its scrape");
    telemetry::grow_series(lab, CLIENT_NODE, &client(MESH_NS), &load)?;
    telemetry::time_scrape(lab, CLIENT_NODE)
}

/// (f): applies the Telemetry resource, runs both protocols and checks whether the client
/// node's agent stopped counting requests.
fn telemetry_off(
    report: &mut HttpReport,
    lab: &mut Lab,
    plan: &HttpPlan,
    agents: &[i32],
) -> Result<()> {
    let applied = telemetry::apply_telemetry_off(lab)?;
    let counted = |lab: &Lab| -> Result<f64> {
        let text = telemetry::metrics_text(lab, CLIENT_NODE)?;
        Ok(telemetry::metric_sum(&text, "istio_requests_total").unwrap_or(0.0))
    };
    let before = counted(lab)?;
    run_carrier(report, lab, plan, HttpCarrier::MeshTelemetryOff, agents)?;
    let after_text = telemetry::metrics_text(lab, CLIENT_NODE)?;
    let after = telemetry::metric_sum(&after_text, "istio_requests_total").unwrap_or(0.0);
    let made = report
        .cases
        .iter()
        .filter(|c| c.carrier == HttpCarrier::MeshTelemetryOff)
        .filter_map(|c: &HttpCaseReport| c.load.as_ref())
        .map(|l| l.requests)
        .sum();
    report.telemetry_off = Some(TelemetryOffCheck {
        applied,
        rejected_resources: telemetry::metric_sum(&after_text, "mesh_config_rejected_resources"),
        requests_counted: Some(after - before),
        requests_made: made,
    });
    Ok(())
}
