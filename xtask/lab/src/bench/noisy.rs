//! `bench http`'s noisy neighbour (issue 19, "Measure"): pod B sends a steady [`QUIET_RATE`]
//! req/s to its Service while pod A, on the same node, floods another Service — not at all,
//! with HTTP/1.1 requests as fast as it can, then with a new connection per request. B's
//! p50/p99 and errors in each run show what A's flood costs it (aim: p99 within 1.5× of the
//! quiet run's, no errors).

use super::http_cases::HttpPlan;
use super::http_load::{HttpLoad, HttpProtocol};
use super::load::{ClientPlace, LoadResult};
use super::topology::{self, bench_file, MESH_NS, SERVER_PORT};
use crate::lab::{ExecTarget, Lab};
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::time::Duration;

/// B's steady rate and connections.
pub const QUIET_RATE: f64 = 500.0;
const QUIET_CONNECTIONS: u32 = 4;
/// A's flood: connections, each one request in flight.
const FLOOD_CONNECTIONS: u32 = 64;
/// A starts this much before B, and ends this much after.
const LEAD: Duration = Duration::from_millis(500);

/// What pod A does during B's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flood {
    None,
    Http,
    NewConnections,
}

/// One run: B's figures, and A's when it flooded.
#[derive(Clone, Debug, Serialize)]
pub struct NoisyRun {
    pub flood: Flood,
    pub quiet: Option<LoadResult>,
    pub noisy: Option<LoadResult>,
    pub error: Option<String>,
}

/// The pods of `http-noisy.yaml` added to the lab, then B without A and with each flood.
pub fn measure(lab: &mut Lab, plan: &HttpPlan) -> Result<Vec<NoisyRun>> {
    lab.apply(&[bench_file("http-noisy.yaml")])?;
    // The new-connection flood reuses TIME_WAIT ports, as the other benches' loads do.
    topology::allow_many_connections(lab)?;
    for server in ["quiet-server", "noisy-server"] {
        topology::wait_listening(topology::pod(lab, MESH_NS, server)?.netns(), SERVER_PORT)?;
    }
    let quiet = load(lab, "quiet-server", plan, QUIET_CONNECTIONS)?;
    let runs = [Flood::None, Flood::Http, Flood::NewConnections].map(|flood| {
        eprintln!("==> noisy neighbour: B at {QUIET_RATE} req/s, A's flood {flood:?}");
        let mut quiet = quiet.clone();
        quiet.rate = Some(QUIET_RATE);
        let noisy = flood_load(lab, plan, flood);
        match run(lab, &quiet, noisy) {
            Ok((quiet, noisy)) => NoisyRun {
                flood,
                quiet: Some(quiet),
                noisy,
                error: None,
            },
            Err(err) => NoisyRun {
                flood,
                quiet: None,
                noisy: None,
                error: Some(format!("{err:#}")),
            },
        }
    });
    Ok(runs.into())
}

/// A's load for `flood` (none for [`Flood::None`]), running past both ends of B's.
fn flood_load(lab: &Lab, plan: &HttpPlan, flood: Flood) -> Option<HttpLoad> {
    let mut noisy = load(lab, "noisy-server", plan, FLOOD_CONNECTIONS).ok()?;
    noisy.warmup = Duration::ZERO;
    noisy.duration = plan.warmup + plan.duration + LEAD * 2;
    match flood {
        Flood::None => None,
        Flood::Http => Some(noisy),
        Flood::NewConnections => {
            noisy.new_connection_per_request = true;
            Some(noisy)
        }
    }
}

/// B's run, with A's beside it when given.
fn run(
    lab: &Lab,
    quiet: &HttpLoad,
    noisy: Option<HttpLoad>,
) -> Result<(LoadResult, Option<LoadResult>)> {
    let Some(noisy) = noisy else {
        return Ok((quiet.run(lab, &client("quiet"))?, None));
    };
    std::thread::scope(|scope| {
        let flood = scope.spawn(|| noisy.run(lab, &client("noisy")));
        std::thread::sleep(LEAD);
        let quiet = quiet.run(lab, &client("quiet"));
        let flood = flood.join().map_err(|_| anyhow!("the flood panicked"))?;
        Ok((quiet?, Some(flood?)))
    })
}

/// HTTP/1.1 from a client pod to `service`'s ClusterIP, named by its authority.
fn load(lab: &Lab, service: &str, plan: &HttpPlan, connections: u32) -> Result<HttpLoad> {
    let addr = topology::service_addr(lab, MESH_NS, service)?;
    let mut load = HttpLoad::new(addr, HttpProtocol::Http1, connections);
    load.host = Some(format!("{service}.{MESH_NS}:{SERVER_PORT}"));
    (load.duration, load.warmup) = (plan.duration, plan.warmup);
    Ok(load)
}

fn client(name: &str) -> ClientPlace {
    ClientPlace::Pod(ExecTarget::Pod {
        namespace: MESH_NS.into(),
        name: name.into(),
    })
}
