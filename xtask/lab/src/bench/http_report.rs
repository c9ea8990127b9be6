//! The HTTP benchmark's results: ratios between cases, the tables on stdout and the same
//! figures as JSON in `target/bench/http.json`.

use super::http_cases::{HttpCarrier, HttpCaseReport};
use super::http_limits::LimitAccuracy;
use super::http_load::HttpProtocol;
use super::http_telemetry::{Scrape, TelemetryOffCheck};
use super::noisy::NoisyRun;
use super::release::target_dir;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// Everything one `bench http` run measured.
#[derive(Debug, Serialize)]
pub struct HttpReport {
    /// The build profile measured (`release`, or `debug` with `--debug-build`).
    pub profile: String,
    pub connections: u32,
    pub duration_s: f64,
    pub body_bytes: usize,
    /// Closed-loop runs at `connections` connections.
    pub cases: Vec<HttpCaseReport>,
    /// Fixed-rate runs (direct and mesh).
    pub fixed_rate: Vec<HttpCaseReport>,
    pub rate: f64,
    pub rate_connections: u32,
    pub telemetry_off: Option<TelemetryOffCheck>,
    pub scrape: Option<Scrape>,
    /// The local rate limit's allowed rate against its configured one.
    pub rate_limit_accuracy: Option<LimitAccuracy>,
    /// Pod B's steady load without and with pod A's floods.
    pub noisy_neighbour: Vec<NoisyRun>,
    /// Why a part did not run, or what to keep in mind reading a figure.
    pub notes: Vec<String>,
}

impl HttpReport {
    /// Fills the ratios to the direct path and to HAProxy (same protocol), and the fixed-rate
    /// runs' p99 added over direct.
    pub fn fill_ratios(&mut self) {
        let cases = self.cases.clone();
        for case in self.cases.iter_mut().filter(|c| c.status == "ok") {
            let direct = find(&cases, HttpCarrier::Direct, case.protocol);
            let haproxy = find(&cases, HttpCarrier::Haproxy, case.protocol);
            case.rps_vs_direct = ratio(rps(case), direct.and_then(rps));
            case.rps_vs_haproxy = ratio(rps(case), haproxy.and_then(rps));
            case.p99_vs_haproxy = ratio(p99(case), haproxy.and_then(p99));
        }
        let rated = self.fixed_rate.clone();
        for case in self.fixed_rate.iter_mut().filter(|c| c.status == "ok") {
            let direct = find(&rated, HttpCarrier::Direct, case.protocol).and_then(p99);
            case.added_p99_us = p99(case).zip(direct).map(|(p99, direct)| p99 - direct);
        }
    }

    /// `variant` over `base` on `protocol` for `figure`: (e) vs (b), (b) vs (f). A base of
    /// (b) is the mean of (b) and (b') where both ran (as is a variant of (b)).
    pub fn compare(
        &self,
        variant: HttpCarrier,
        base: HttpCarrier,
        protocol: HttpProtocol,
        figure: fn(&HttpCaseReport) -> Option<f64>,
    ) -> Option<f64> {
        ratio(
            self.figure_of(variant, protocol, figure),
            self.figure_of(base, protocol, figure),
        )
    }

    /// `figure` of `carrier`'s case; for (b), the mean with (b') when that ran too.
    fn figure_of(
        &self,
        carrier: HttpCarrier,
        protocol: HttpProtocol,
        figure: fn(&HttpCaseReport) -> Option<f64>,
    ) -> Option<f64> {
        let value = find(&self.cases, carrier, protocol).and_then(figure)?;
        if carrier != HttpCarrier::Mesh {
            return Some(value);
        }
        let again = find(&self.cases, HttpCarrier::MeshAgain, protocol).and_then(figure);
        Some(again.map_or(value, |again| (value + again) / 2.0))
    }

    /// Writes `target/bench/http.json` and returns its path.
    pub fn write(&self) -> Result<PathBuf> {
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("http.json");
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

/// The measured case of `carrier` on `protocol`.
pub fn find(
    cases: &[HttpCaseReport],
    carrier: HttpCarrier,
    protocol: HttpProtocol,
) -> Option<&HttpCaseReport> {
    cases
        .iter()
        .find(|c| c.carrier == carrier && c.protocol == protocol && c.status == "ok")
}

/// Requests per second.
pub fn rps(case: &HttpCaseReport) -> Option<f64> {
    case.load.as_ref().map(|l| l.rps)
}

/// p99, µs.
pub fn p99(case: &HttpCaseReport) -> Option<f64> {
    case.load.as_ref().map(|l| l.p99_us as f64)
}

/// CPU ms per 1,000 requests.
pub fn cpu_per_1k(case: &HttpCaseReport) -> Option<f64> {
    case.cpu_ms_per_1k
}

fn ratio(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (value, base) = (value?, base?);
    (base > 0.0).then(|| value / base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::LoadResult;

    fn case(carrier: HttpCarrier, rps: f64, p99_us: u64, cpu: Option<f64>) -> HttpCaseReport {
        let mut case = HttpCaseReport::ran(carrier, HttpProtocol::Http1);
        case.load = Some(LoadResult {
            rps,
            p99_us,
            ..LoadResult::default()
        });
        case.cpu_ms_per_1k = cpu;
        case
    }

    fn report(cases: Vec<HttpCaseReport>, fixed_rate: Vec<HttpCaseReport>) -> HttpReport {
        HttpReport {
            profile: "test".into(),
            connections: 64,
            duration_s: 5.0,
            body_bytes: 64,
            cases,
            fixed_rate,
            rate: 1000.0,
            rate_connections: 2,
            telemetry_off: None,
            scrape: None,
            rate_limit_accuracy: None,
            noisy_neighbour: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn ratios_are_against_direct_and_haproxy_of_the_same_protocol() {
        let mut report = report(
            vec![
                case(HttpCarrier::Direct, 40_000.0, 2_000, None),
                case(HttpCarrier::Haproxy, 20_000.0, 4_000, Some(30.0)),
                case(HttpCarrier::Mesh, 30_000.0, 3_000, Some(40.0)),
            ],
            vec![
                case(HttpCarrier::Direct, 1_000.0, 300, None),
                case(HttpCarrier::Mesh, 1_000.0, 450, None),
            ],
        );
        report.fill_ratios();
        let mesh = &report.cases[2];
        assert_eq!(mesh.rps_vs_direct, Some(0.75));
        assert_eq!(mesh.rps_vs_haproxy, Some(1.5));
        assert_eq!(mesh.p99_vs_haproxy, Some(0.75));
        assert_eq!(report.fixed_rate[1].added_p99_us, Some(150.0));
        assert_eq!(report.fixed_rate[0].added_p99_us, Some(0.0));
    }

    #[test]
    fn comparisons_between_variants_skip_cases_that_did_not_run() {
        let mut report = report(
            vec![
                case(HttpCarrier::Mesh, 30_000.0, 3_000, Some(40.0)),
                case(HttpCarrier::MeshResilience, 29_000.0, 3_100, Some(42.0)),
            ],
            Vec::new(),
        );
        let ratio = report.compare(
            HttpCarrier::MeshResilience,
            HttpCarrier::Mesh,
            HttpProtocol::Http1,
            cpu_per_1k,
        );
        assert_eq!(ratio, Some(1.05));
        report.cases[1].status = "failed";
        let ratio = report.compare(
            HttpCarrier::MeshResilience,
            HttpCarrier::Mesh,
            HttpProtocol::Http1,
            rps,
        );
        assert_eq!(ratio, None);
    }

    #[test]
    fn a_mesh_base_is_the_mean_of_both_mesh_runs() {
        let report = report(
            vec![
                case(HttpCarrier::Mesh, 30_000.0, 3_000, Some(40.0)),
                case(HttpCarrier::MeshResilience, 27_000.0, 3_100, Some(44.0)),
                case(HttpCarrier::MeshAgain, 24_000.0, 3_000, Some(48.0)),
            ],
            Vec::new(),
        );
        let versus = |figure| {
            report.compare(
                HttpCarrier::MeshResilience,
                HttpCarrier::Mesh,
                HttpProtocol::Http1,
                figure,
            )
        };
        assert_eq!(versus(rps), Some(1.0));
        assert_eq!(versus(cpu_per_1k), Some(1.0));
    }
}
