//! `cargo xtask bench l4` (the L4 path): in one run, (a) direct pod→pod, (b) through the agents
//! (cross-node in the mTLS tunnel), (c) through the agents with `--sk-msg-accel`, (d) HAProxy in
//! TCP mode on the same path — each cross-node and same-node — (e) the agents without
//! certificates (plaintext) cross-node and (f) those agents with `--l4-splice`, both ways; plus
//! the connect hook's cost, new tunnels per second and the agent's idle memory with 100 pods (one
//! identity, then one each).

use super::cases::{measure, Carrier, Case, CaseReport, Plan, Way};
use super::haproxy::{Frontend, Haproxy};
use super::idle::{self, Identities};
use super::load::{ClientPlace, MESSAGE_SIZE};
use super::proc_stats::{find_agents, rss_mib, AgentProcess};
use super::report::L4Report;
use super::topology::{self, LabGuard, Security, DIRECT_NS, MESH_NS, SERVER_PORT};
use super::{hook_cost, tunnels};
use crate::lab::{ExecTarget, Lab};
use anyhow::Result;
use std::time::Duration;

/// HAProxy's frontends in node-1: to the cross-node and to the same-node server.
const HAPROXY_CROSS_PORT: u16 = 18001;
const HAPROXY_SAME_PORT: u16 = 18002;
/// The agent flag under test in (c).
const ACCEL_FLAG: &str = "--sk-msg-accel";
const SPLICE_FLAG: &str = "--l4-splice";

/// `cargo xtask bench l4` options.
#[derive(clap::Args)]
pub struct L4Args {
    /// Seconds per throughput run (one-connection and connection-setup runs take half).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections for the throughput and setup runs.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Measure the debug binaries as they are (no rebuild) instead of building release ones.
    #[arg(long)]
    pub debug_build: bool,
    /// Skip the 100-pod idle-memory lab.
    #[arg(long)]
    skip_idle: bool,
}

/// Runs the whole benchmark, prints the table and writes `target/bench/l4.json`.
pub fn run(args: &L4Args) -> Result<()> {
    let plan = Plan {
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.duration.max(1)),
        short: Duration::from_secs((args.duration / 2).max(1)),
        warmup: Duration::from_secs(1),
    };
    let _guard = LabGuard;
    let mut report = L4Report {
        profile: super::release::profile(),
        connections: plan.connections,
        duration_s: plan.duration.as_secs_f64(),
        size_bytes: MESSAGE_SIZE,
        cases: Vec::new(),
        agent_rss_before_load_mib: None,
        idle_100_pods: None,
        idle_100_identities: None,
        new_tunnels: None,
        connect_hook: None,
        notes: Vec::new(),
    };
    plain_round(&mut report, &plan)?;
    plaintext_round(&mut report, &plan)?;
    accel_round(&mut report, &plan)?;
    splice_round(&mut report, &plan)?;
    if !args.skip_idle {
        report.idle_100_pods = Some(idle::measure(Identities::Shared)?);
        report.idle_100_identities = Some(idle::measure(Identities::OnePerPod)?);
    }
    report.fill_ratios();
    report.print();
    println!("\nwritten: {}", report.write()?.display());
    Ok(())
}

/// Default agent flags: (a), the hook cost, (d), (b), then new tunnels.
fn plain_round(report: &mut L4Report, plan: &Plan) -> Result<()> {
    let mut lab = topology::up(2, "l4.yaml", "")?;
    prepare(&lab)?;
    let agents = find_agents(&lab);
    report.agent_rss_before_load_mib = agents
        .iter()
        .filter_map(|a| rss_mib(a.pid))
        .reduce(f64::max);
    if agents.is_empty() {
        report.notes.push(no_agent_reason());
    } else {
        report
            .notes
            .push("(a) runs with the agents' cgroup programs attached (pods bypassed)".into());
    }
    for way in [Way::CrossNode, Way::SameNode] {
        let addr = topology::pod_addr(&lab, DIRECT_NS, server_name(way))?;
        report
            .cases
            .push(run_case(&lab, plan, Carrier::Direct, way, addr, vec![]));
    }
    report.connect_hook = Some(hook_cost::measure(&lab, plan, !agents.is_empty())?);
    haproxy_cases(report, &lab, plan)?;
    mesh_cases(report, &lab, plan, Carrier::Mesh, &agents)?;
    if !agents.is_empty() {
        let pids: Vec<i32> = agents.iter().map(|a| a.pid).collect();
        match tunnels::measure(&mut lab, &pids) {
            Ok(measured) => report.new_tunnels = Some(measured),
            Err(err) => report.notes.push(format!("new tunnels: {err:#}")),
        }
    }
    Ok(())
}

/// The agents without certificates: (e), cross-node only (same-node never tunnels).
fn plaintext_round(report: &mut L4Report, plan: &Plan) -> Result<()> {
    let path = topology::bench_file("l4.yaml");
    let lab = topology::up_from(2, &path, "", Security::Plaintext)?;
    prepare(&lab)?;
    let agents = find_agents(&lab);
    let (carrier, way) = (Carrier::MeshPlaintext, Way::CrossNode);
    if agents.iter().any(|a| a.cmdline.contains("--ca-address")) {
        let reason = "the lab started its agents with --ca-address anyway";
        report.cases.push(CaseReport::skipped(carrier, way, reason));
        return Ok(());
    }
    if agents.is_empty() {
        let skipped = CaseReport::skipped(carrier, way, no_agent_reason());
        report.cases.push(skipped);
        return Ok(());
    }
    let addr = topology::service_addr(&lab, MESH_NS, server_name(way))?;
    let pids = agents.iter().map(|a| a.pid).collect();
    report
        .cases
        .push(run_case(&lab, plan, carrier, way, addr, pids));
    Ok(())
}

/// The agents started with `--sk-msg-accel`: (c).
fn accel_round(report: &mut L4Report, plan: &Plan) -> Result<()> {
    let lab = topology::up(2, "l4.yaml", ACCEL_FLAG)?;
    prepare(&lab)?;
    let agents = find_agents(&lab);
    if !agents.is_empty() && !agents.iter().all(|a| a.cmdline.contains(ACCEL_FLAG)) {
        let reason = format!(
            "the lab's agents run without {ACCEL_FLAG}: the lab does not pass {} yet",
            topology::AGENT_ARGS_ENV
        );
        for way in [Way::CrossNode, Way::SameNode] {
            report
                .cases
                .push(CaseReport::skipped(Carrier::MeshAccel, way, &reason));
        }
        return Ok(());
    }
    mesh_cases(report, &lab, plan, Carrier::MeshAccel, &agents)
}

/// The agents without certificates and with `--l4-splice`: (f), both ways.
fn splice_round(report: &mut L4Report, plan: &Plan) -> Result<()> {
    let path = topology::bench_file("l4.yaml");
    let lab = topology::up_from(2, &path, SPLICE_FLAG, Security::Plaintext)?;
    prepare(&lab)?;
    let agents = find_agents(&lab);
    if !agents.is_empty() && !agents.iter().all(|a| a.cmdline.contains(SPLICE_FLAG)) {
        let reason = format!("the lab's agents run without {SPLICE_FLAG}");
        for way in [Way::CrossNode, Way::SameNode] {
            let skipped = CaseReport::skipped(Carrier::MeshSplice, way, &reason);
            report.cases.push(skipped);
        }
        return Ok(());
    }
    mesh_cases(report, &lab, plan, Carrier::MeshSplice, &agents)
}

/// Many-connection sysctls, then every server listening.
fn prepare(lab: &Lab) -> Result<()> {
    topology::allow_many_connections(lab)?;
    for ns in [DIRECT_NS, MESH_NS] {
        for name in ["server", "server-local"] {
            topology::wait_listening(topology::pod(lab, ns, name)?.netns(), SERVER_PORT)?;
        }
    }
    Ok(())
}

/// (d): HAProxy in node-1's netns, the direct client connecting to it.
fn haproxy_cases(report: &mut L4Report, lab: &Lab, plan: &Plan) -> Result<()> {
    let node = &lab.nodes()[0];
    let frontends = [
        (HAPROXY_CROSS_PORT, Way::CrossNode),
        (HAPROXY_SAME_PORT, Way::SameNode),
    ]
    .map(|(port, way)| {
        let backend = topology::pod_addr(lab, DIRECT_NS, server_name(way));
        backend.map(|backend| Frontend { port, backend })
    });
    let frontends: Vec<Frontend> = frontends.into_iter().collect::<Result<_>>()?;
    let haproxy = Haproxy::start(node.netns(), &frontends)?;
    for (frontend, way) in frontends.iter().zip([Way::CrossNode, Way::SameNode]) {
        let addr = format!("{}:{}", node.address(), frontend.port);
        let case = run_case(lab, plan, Carrier::Haproxy, way, addr, vec![haproxy.pid()]);
        report.cases.push(case);
    }
    Ok(())
}

/// (b) or (c): the meshed client to the meshed servers' ClusterIPs, through the agents.
fn mesh_cases(
    report: &mut L4Report,
    lab: &Lab,
    plan: &Plan,
    carrier: Carrier,
    agents: &[AgentProcess],
) -> Result<()> {
    for way in [Way::CrossNode, Way::SameNode] {
        if agents.is_empty() {
            report
                .cases
                .push(CaseReport::skipped(carrier, way, no_agent_reason()));
            continue;
        }
        let addr = topology::service_addr(lab, MESH_NS, server_name(way))?;
        let pids = agents.iter().map(|a| a.pid).collect();
        report
            .cases
            .push(run_case(lab, plan, carrier, way, addr, pids));
    }
    Ok(())
}

/// Measures one case from the client pod of the carrier's namespace; an error fails the case.
fn run_case(
    lab: &Lab,
    plan: &Plan,
    carrier: Carrier,
    way: Way,
    addr: String,
    proxies: Vec<i32>,
) -> CaseReport {
    let namespace = match carrier {
        Carrier::Mesh | Carrier::MeshAccel | Carrier::MeshPlaintext | Carrier::MeshSplice => {
            MESH_NS
        }
        Carrier::Direct | Carrier::Haproxy => DIRECT_NS,
    };
    let client = ClientPlace::Pod(ExecTarget::Pod {
        namespace: namespace.into(),
        name: "client".into(),
    });
    let case = Case {
        carrier,
        way,
        client,
        addr,
        proxies,
    };
    measure(lab, &case, plan)
        .unwrap_or_else(|err| CaseReport::failed(carrier, way, format!("{err:#}")))
}

fn server_name(way: Way) -> &'static str {
    match way {
        Way::CrossNode => "server",
        Way::SameNode => "server-local",
    }
}

fn no_agent_reason() -> String {
    "no agent running in the lab: its agent hook (xtask/lab/src/lab/agent.rs) does not start one yet"
        .into()
}
