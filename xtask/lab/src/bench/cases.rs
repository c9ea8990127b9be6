//! One benchmark case — a way from the client pod to a server — measured three ways: throughput
//! and latency at N connections, latency at one connection, and connection setup rate.

use super::load::{run_load, ClientPlace, LoadResult, LoadSpec};
use super::proc_stats::{Meter, Usage};
use crate::lab::Lab;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// What carries the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carrier {
    /// (a) Pod to pod, no proxy.
    Direct,
    /// (b) Both pods in the mesh, through the agents (cross-node: in the mTLS tunnel).
    Mesh,
    /// (e) (b) with the agents started without certificates: cross-node in plaintext.
    MeshPlaintext,
    /// (c) The mesh with the agents' `--sk-msg-accel`.
    MeshAccel,
    /// (f) (e) with the agents' `--l4-splice`: the agents' sockets joined in the kernel.
    MeshSplice,
    /// (d) HAProxy in TCP mode in the client's node.
    Haproxy,
}

/// Where the server is, seen from the client (always on node-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Way {
    CrossNode,
    SameNode,
}

/// A case to measure.
pub struct Case {
    pub carrier: Carrier,
    pub way: Way,
    pub client: ClientPlace,
    pub addr: String,
    /// The proxy processes whose CPU and memory are measured.
    pub proxies: Vec<i32>,
}

/// How long and how wide each run is.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub connections: u32,
    pub duration: Duration,
    /// Single-connection latency and connection-setup runs are shorter.
    pub short: Duration,
    pub warmup: Duration,
}

/// A measured (or skipped) case, as printed and written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    pub carrier: Carrier,
    pub way: Way,
    /// `ok`, `skipped` or `failed`.
    pub status: &'static str,
    pub reason: Option<String>,
    /// At `connections` connections, kept open.
    pub throughput: Option<LoadResult>,
    /// At one connection, kept open.
    pub one_connection: Option<LoadResult>,
    /// At `connections` connections, a new one per request.
    pub connection_setup: Option<LoadResult>,
    /// The proxies' CPU (summed) and memory (largest) over the throughput run.
    pub proxy: Option<Usage>,
    /// One-connection p50 minus the direct path's.
    pub added_p50_us: Option<f64>,
    pub rps_vs_direct: Option<f64>,
    pub rps_vs_haproxy: Option<f64>,
    pub setup_vs_direct: Option<f64>,
    pub setup_vs_haproxy: Option<f64>,
}

impl CaseReport {
    /// A case that could not run, and why.
    pub fn skipped(carrier: Carrier, way: Way, reason: impl Into<String>) -> Self {
        Self::empty(carrier, way, "skipped", Some(reason.into()))
    }

    /// A case that ran into an error, and which.
    pub fn failed(carrier: Carrier, way: Way, reason: impl Into<String>) -> Self {
        Self::empty(carrier, way, "failed", Some(reason.into()))
    }

    fn empty(carrier: Carrier, way: Way, status: &'static str, reason: Option<String>) -> Self {
        CaseReport {
            carrier,
            way,
            status,
            reason,
            throughput: None,
            one_connection: None,
            connection_setup: None,
            proxy: None,
            added_p50_us: None,
            rps_vs_direct: None,
            rps_vs_haproxy: None,
            setup_vs_direct: None,
            setup_vs_haproxy: None,
        }
    }

    /// `carrier way`, for the table.
    pub fn label(&self) -> String {
        let carrier = match self.carrier {
            Carrier::Direct => "(a) direct",
            Carrier::Mesh => "(b) mesh (mTLS)",
            Carrier::MeshPlaintext => "(e) mesh plaintext",
            Carrier::MeshAccel => "(c) mesh+sk_msg",
            Carrier::MeshSplice => "(f) mesh plaintext+splice",
            Carrier::Haproxy => "(d) haproxy",
        };
        let way = match self.way {
            Way::CrossNode => "cross-node",
            Way::SameNode => "same-node",
        };
        format!("{carrier} {way}")
    }
}

/// Measures `case`: throughput (with the proxies' usage), one-connection latency, setup rate.
pub fn measure(lab: &Lab, case: &Case, plan: &Plan) -> Result<CaseReport> {
    eprintln!("==> {:?} {:?} → {}", case.carrier, case.way, case.addr);
    let spec = |connections, duration, new_connection_per_request| LoadSpec {
        addr: case.addr.clone(),
        connections,
        duration,
        warmup: plan.warmup,
        new_connection_per_request,
    };
    let meter = Meter::start(&case.proxies);
    let throughput = run_load(
        lab,
        &case.client,
        &spec(plan.connections, plan.duration, false),
    )?;
    let proxy = meter.finish();
    if throughput.requests == 0 {
        let reason = format!("no request got through ({} errors)", throughput.errors);
        let mut report = CaseReport::failed(case.carrier, case.way, reason);
        report.throughput = Some(throughput);
        return Ok(report);
    }
    let one = run_load(lab, &case.client, &spec(1, plan.short, false))?;
    let setup = run_load(lab, &case.client, &spec(plan.connections, plan.short, true))?;
    let mut report = CaseReport::empty(case.carrier, case.way, "ok", None);
    report.throughput = Some(throughput);
    report.one_connection = Some(one);
    report.connection_setup = Some(setup);
    report.proxy = proxy;
    Ok(report)
}
