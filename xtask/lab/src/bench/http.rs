//! `cargo xtask bench http` (the L7 path, resilience, telemetry): in one two-node lab, HTTP/1.1 and h2c GETs at
//! N connections cross-node — (a) direct pod→pod, (b) through the agents with a VirtualService
//! and metrics on, (c) HAProxy and (d) nginx in HTTP mode in the client's node — then (e) the
//! mesh with resilience configured, (f) with telemetry off, (g) with 20 AuthorizationPolicies
//! and a JWT, (h) with a local rate limit that never triggers; latency at a fixed 1,000 req/s,
//! a timed scrape of the agent's metrics, the rate limiter's accuracy and a noisy neighbour.

use super::haproxy::{Haproxy, HttpFrontend};
use super::http_cases::{measure, HttpCarrier, HttpCase, HttpCaseReport, HttpPlan};
use super::http_load::{HttpLoad, HttpProtocol};
use super::http_report::HttpReport;
use super::http_variants;
use super::load::ClientPlace;
use super::nginx::Nginx;
use super::proc_stats::find_agents;
use super::topology::{self, LabGuard, DIRECT_NS, MESH_NS, SERVER_PORT};
use crate::lab::{ExecTarget, Lab};
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// Answer size the servers of `http.yaml` send.
const BODY_BYTES: usize = 64;
/// HAProxy's and nginx's frontends in node-1 (HTTP/1.1, h2c).
const HAPROXY_PORTS: [u16; 2] = [18101, 18102];
const NGINX_PORTS: [u16; 2] = [18201, 18202];
/// The fixed-rate runs: total rate and connections.
const RATE: f64 = 1000.0;
const RATE_CONNECTIONS: u32 = 2;

/// `cargo xtask bench http` options.
#[derive(clap::Args)]
pub struct HttpArgs {
    /// Seconds per run (each run also has a 1 s warmup).
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Concurrent connections for the closed-loop runs.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Measure the debug binaries as they are (no rebuild) instead of building release ones.
    #[arg(long)]
    pub debug_build: bool,
}

/// Runs the whole benchmark, prints the tables and writes `target/bench/http.json`.
pub fn run(args: &HttpArgs) -> Result<()> {
    let plan = HttpPlan {
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.duration.max(1)),
        warmup: Duration::from_secs(1),
    };
    let _guard = LabGuard;
    let mut lab = topology::up(2, "http.yaml", "")?;
    lab.apply(&[bench_yaml("http-routing.yaml")])?;
    topology::allow_many_connections(&lab)?;
    for ns in [DIRECT_NS, MESH_NS] {
        topology::wait_listening(topology::pod(&lab, ns, "server")?.netns(), SERVER_PORT)?;
    }
    let mut report = empty_report(&plan);
    for protocol in HttpProtocol::ALL {
        let direct = direct_case(&lab, &plan, protocol)?;
        report.cases.push(measure(&lab, &direct));
    }
    proxy_cases(&mut report, &lab, &plan)?;
    let agents: Vec<i32> = find_agents(&lab).iter().map(|a| a.pid).collect();
    if agents.is_empty() {
        let reason = "no agent running in the lab (xtask/lab/src/lab/agent.rs)";
        report.notes.push(reason.into());
        fixed_rate(&mut report, &lab, &plan, &[])?;
    } else {
        http_variants::mesh_round(&mut report, &mut lab, &plan, &agents)?;
    }
    report.fill_ratios();
    report.print();
    println!("\nwritten: {}", report.write()?.display());
    Ok(())
}

/// A file under `xtask/bench/`.
pub fn bench_yaml(name: &str) -> PathBuf {
    topology::bench_file(name)
}

fn empty_report(plan: &HttpPlan) -> HttpReport {
    HttpReport {
        profile: super::release::profile(),
        connections: plan.connections,
        duration_s: plan.duration.as_secs_f64(),
        body_bytes: BODY_BYTES,
        cases: Vec::new(),
        fixed_rate: Vec::new(),
        rate: RATE,
        rate_connections: RATE_CONNECTIONS,
        telemetry_off: None,
        scrape: None,
        rate_limit_accuracy: None,
        noisy_neighbour: Vec::new(),
        notes: Vec::new(),
    }
}

/// The client pod of `namespace`.
pub fn client(namespace: &str) -> ClientPlace {
    ClientPlace::Pod(ExecTarget::Pod {
        namespace: namespace.into(),
        name: "client".into(),
    })
}

/// A closed-loop load of `plan` to `addr`.
fn plan_load(plan: &HttpPlan, addr: String, protocol: HttpProtocol) -> HttpLoad {
    let mut load = HttpLoad::new(addr, protocol, plan.connections);
    (load.duration, load.warmup) = (plan.duration, plan.warmup);
    load
}

/// (a): the direct client to the server pod's address.
fn direct_case(lab: &Lab, plan: &HttpPlan, protocol: HttpProtocol) -> Result<HttpCase> {
    let addr = topology::pod_addr(lab, DIRECT_NS, "server")?;
    Ok(HttpCase {
        carrier: HttpCarrier::Direct,
        client: client(DIRECT_NS),
        load: plan_load(plan, addr, protocol),
        proxies: Vec::new(),
    })
}

/// (b), (e), (f): the meshed client to the Service's ClusterIP, named by its authority.
pub fn mesh_case(
    lab: &Lab,
    plan: &HttpPlan,
    carrier: HttpCarrier,
    protocol: HttpProtocol,
    agents: &[i32],
) -> Result<HttpCase> {
    let mut load = plan_load(
        plan,
        topology::service_addr(lab, MESH_NS, "server")?,
        protocol,
    );
    load.host = Some(format!("server.{MESH_NS}:{SERVER_PORT}"));
    Ok(HttpCase {
        carrier,
        client: client(MESH_NS),
        load,
        proxies: agents.to_vec(),
    })
}

/// (c) and (d): HAProxy, then nginx, in node-1's netns, the direct client connecting to them.
fn proxy_cases(report: &mut HttpReport, lab: &Lab, plan: &HttpPlan) -> Result<()> {
    let node = &lab.nodes()[0];
    let backend = topology::pod_addr(lab, DIRECT_NS, "server")?;
    let frontends = |ports: [u16; 2]| {
        HttpProtocol::ALL.map(|protocol| HttpFrontend {
            port: ports[protocol as usize],
            backend: backend.clone(),
            h2: protocol == HttpProtocol::H2,
        })
    };
    let run = |carrier, frontends: &[HttpFrontend], pids: Vec<i32>| {
        HttpProtocol::ALL.map(|protocol| {
            let addr = format!("{}:{}", node.address(), frontends[protocol as usize].port);
            let case = HttpCase {
                carrier,
                client: client(DIRECT_NS),
                load: plan_load(plan, addr, protocol),
                proxies: pids.clone(),
            };
            measure(lab, &case)
        })
    };
    let haproxy_frontends = frontends(HAPROXY_PORTS);
    match Haproxy::start_http(node.netns(), &haproxy_frontends) {
        Ok(haproxy) => report.cases.extend(run(
            HttpCarrier::Haproxy,
            &haproxy_frontends,
            vec![haproxy.pid()],
        )),
        Err(err) => not_run(report, HttpCarrier::Haproxy, &format!("{err:#}")),
    }
    let nginx_frontends = frontends(NGINX_PORTS);
    match Nginx::start(node.netns(), &nginx_frontends) {
        Ok(nginx) => report
            .cases
            .extend(run(HttpCarrier::Nginx, &nginx_frontends, nginx.pids())),
        Err(err) => not_run(report, HttpCarrier::Nginx, &format!("{err:#}")),
    }
    Ok(())
}

/// Both protocols of `carrier` failed with `reason`.
pub fn not_run(report: &mut HttpReport, carrier: HttpCarrier, reason: &str) {
    for protocol in HttpProtocol::ALL {
        let case = HttpCaseReport::not_run(carrier, protocol, "failed", reason);
        report.cases.push(case);
    }
}

/// Direct and (with agents) mesh at a fixed [`RATE`] over [`RATE_CONNECTIONS`] connections.
pub fn fixed_rate(
    report: &mut HttpReport,
    lab: &Lab,
    plan: &HttpPlan,
    agents: &[i32],
) -> Result<()> {
    for protocol in HttpProtocol::ALL {
        let mut cases = vec![direct_case(lab, plan, protocol)?];
        if !agents.is_empty() {
            cases.push(mesh_case(lab, plan, HttpCarrier::Mesh, protocol, agents)?);
        }
        for mut case in cases {
            (case.load.connections, case.load.rate) = (RATE_CONNECTIONS, Some(RATE));
            report.fixed_rate.push(measure(lab, &case));
        }
    }
    Ok(())
}
