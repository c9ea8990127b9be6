//! `bench http`'s inbound policies on the mesh (issues 17 and 19, "Measure"): (g) 20
//! AuthorizationPolicies and a RequestAuthentication on the server, the load carrying a token;
//! (h) a local rate limit that never triggers; then the limiter's accuracy — a limit of
//! [`LIMIT`] requests a second offered twice that, the requests it let through counted.

use super::http::{mesh_case, not_run};
use super::http_cases::{measure, HttpCarrier, HttpPlan};
use super::http_load::HttpProtocol;
use super::http_policies::{self as policies, TOKEN};
use super::http_report::HttpReport;
use super::topology::bench_file;
use crate::lab::Lab;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Time for the agents to read changed resources (they poll every 500 ms).
const SETTLE: Duration = Duration::from_secs(2);
/// The accuracy run's limit (requests a second) and the rate offered.
const LIMIT: u64 = 200;
const OFFERED: f64 = 400.0;
/// A bucket no bench run empties: (h) never answers 429.
const NEVER: u64 = 10_000_000;

/// Requests let through by the local rate limit against what it was configured with.
#[derive(Clone, Debug, Serialize)]
pub struct LimitAccuracy {
    pub configured_per_s: u64,
    pub offered_per_s: f64,
    /// 2xx answers a second over the measured window.
    pub allowed_per_s: f64,
    /// Other answers (429) a second, over warmup and window (the load counts them in both).
    pub refused_per_s: f64,
    pub seconds: f64,
}

/// (g): the policies applied, both protocols with the token, the policies deleted.
pub fn authz(
    report: &mut HttpReport,
    lab: &mut Lab,
    plan: &HttpPlan,
    agents: &[i32],
) -> Result<()> {
    let files = vec![
        bench_file("http-authz-jwt.yaml"),
        policies::authorization_policies()?,
    ];
    if let Err(err) = lab.apply(&files) {
        not_run(report, HttpCarrier::MeshAuthz, &format!("{err:#}"));
        return Ok(());
    }
    std::thread::sleep(SETTLE);
    for protocol in HttpProtocol::ALL {
        let mut case = mesh_case(lab, plan, HttpCarrier::MeshAuthz, protocol, agents)?;
        case.load.path = format!("/?access_token={TOKEN}");
        report.cases.push(measure(lab, &case));
    }
    delete_settled(lab, &files)
}

/// (h) and the accuracy run.
pub fn rate_limit(
    report: &mut HttpReport,
    lab: &mut Lab,
    plan: &HttpPlan,
    agents: &[i32],
) -> Result<()> {
    let never = policies::rate_limit(NEVER)?;
    if let Err(err) = apply_settled(lab, &never) {
        not_run(report, HttpCarrier::MeshRateLimit, &format!("{err:#}"));
        return Ok(());
    }
    for protocol in HttpProtocol::ALL {
        let case = mesh_case(lab, plan, HttpCarrier::MeshRateLimit, protocol, agents)?;
        report.cases.push(measure(lab, &case));
    }
    let limited = policies::rate_limit(LIMIT)?;
    apply_settled(lab, &limited)?;
    report.rate_limit_accuracy = match accuracy(lab, plan, agents) {
        Ok(accuracy) => Some(accuracy),
        Err(err) => {
            report.notes.push(format!("rate limit accuracy: {err:#}"));
            None
        }
    };
    delete_settled(lab, &[limited])
}

fn apply_settled(lab: &mut Lab, path: &PathBuf) -> Result<()> {
    lab.apply(std::slice::from_ref(path))?;
    std::thread::sleep(SETTLE);
    Ok(())
}

/// Deletes `paths` and waits as long as an apply: the next case must not meet the limit or the
/// policies still in force (the accuracy run's 200/s limit answered the next case's first
/// second with 429s, counted as its errors).
fn delete_settled(lab: &mut Lab, paths: &[PathBuf]) -> Result<()> {
    lab.delete(paths)?;
    std::thread::sleep(SETTLE);
    Ok(())
}

/// HTTP/1.1 at [`OFFERED`] req/s over 4 connections against a limit of [`LIMIT`].
fn accuracy(lab: &Lab, plan: &HttpPlan, agents: &[i32]) -> Result<LimitAccuracy> {
    let mut case = mesh_case(lab, plan, HttpCarrier::Mesh, HttpProtocol::Http1, agents)?;
    (case.load.connections, case.load.rate) = (4, Some(OFFERED));
    eprintln!("==> rate limit accuracy: {OFFERED} req/s offered, {LIMIT}/s configured");
    let load = case.load.run(lab, &case.client)?;
    let seconds = plan.duration.as_secs_f64();
    Ok(LimitAccuracy {
        configured_per_s: LIMIT,
        offered_per_s: OFFERED,
        allowed_per_s: load.rps,
        refused_per_s: load.errors as f64 / (plan.warmup + plan.duration).as_secs_f64(),
        seconds,
    })
}

impl LimitAccuracy {
    /// Allowed over configured.
    pub fn ratio(&self) -> f64 {
        self.allowed_per_s / self.configured_per_s as f64
    }
}
