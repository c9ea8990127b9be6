//! `cargo xtask bench scale` (connection scale): N long-lived connections cross-node sharing a
//! fixed total rate of 1 KiB requests, direct and through both agents (plaintext, then in the
//! mTLS tunnel): p50/p99/errors, and the agents' memory idle, at N, per connection and a while
//! after every connection closed.

use super::cases::Carrier;
use super::load::{run_argv, ClientPlace, LoadResult, MESSAGE_SIZE};
use super::proc_stats::{find_agents, rss_mib};
use super::release::mesh_load_bin;
use super::scale_report::{AgentMemory, ScaleCase, ScaleReport};
use super::topology::{self, LabGuard, Security, DIRECT_NS, MESH_NS, SERVER_PORT};
use crate::lab::{ExecTarget, Lab};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the agents' RSS is read while the connections are open.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Open files every lab process may hold (inherited from this process).
const OPEN_FILES: u64 = 1 << 20;

/// `cargo xtask bench scale` options.
#[derive(clap::Args)]
pub struct ScaleArgs {
    /// Connection counts, one case each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 4_000, 10_000])]
    connections: Vec<u32>,
    /// Requests per second in total, shared by the connections.
    #[arg(long, default_value_t = 2_000.0)]
    rate: f64,
    /// Seconds measured per case, once every connection is open.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds after the connections closed before the agents' RSS is read again.
    #[arg(long, default_value_t = 60)]
    after_close: u64,
    /// Skip the round through the mTLS tunnel (plaintext between the agents only).
    #[arg(long)]
    skip_mtls: bool,
    /// Measure the debug binaries as they are (no rebuild) instead of building release ones.
    #[arg(long)]
    pub debug_build: bool,
}

/// Runs every case, prints the table and writes `target/bench/scale.json`.
pub fn run(args: &ScaleArgs) -> Result<()> {
    raise_open_files()?;
    let _guard = LabGuard;
    let mut report = ScaleReport::new(args.rate, args.duration, args.after_close);
    round(&mut report, args, Security::Plaintext)?;
    if !args.skip_mtls {
        round(&mut report, args, Security::Mtls)?;
    }
    report.fill_ratios();
    report.print();
    println!("\nwritten: {}", report.write()?.display());
    Ok(())
}

/// One lab: the direct cases (first round only), then the mesh's, each N in turn.
fn round(report: &mut ScaleReport, args: &ScaleArgs, security: Security) -> Result<()> {
    let lab = topology::up_from(2, &topology::bench_file("l4.yaml"), "", security)?;
    topology::allow_many_connections(&lab)?;
    for ns in [DIRECT_NS, MESH_NS] {
        topology::wait_listening(topology::pod(&lab, ns, "server")?.netns(), SERVER_PORT)?;
    }
    let carrier = match security {
        Security::Plaintext => Carrier::MeshPlaintext,
        Security::Mtls => Carrier::Mesh,
    };
    let pids: Vec<i32> = find_agents(&lab).iter().map(|a| a.pid).collect();
    let idle: Vec<f64> = pids.iter().filter_map(|&pid| rss_mib(pid)).collect();
    if pids.is_empty() {
        let note = format!("{security:?}: no agent runs in the lab, mesh cases skipped");
        report.notes.push(note);
    }
    for &n in &args.connections {
        if security == Security::Plaintext {
            let addr = topology::pod_addr(&lab, DIRECT_NS, "server")?;
            let load = run_fixed_rate(&lab, DIRECT_NS, &addr, n, args);
            report
                .cases
                .push(ScaleCase::new(Carrier::Direct, n, load, None));
        }
        if pids.is_empty() {
            continue;
        }
        let addr = topology::service_addr(&lab, MESH_NS, "server")?;
        let sampler = PeakRss::start(pids.clone());
        let load = run_fixed_rate(&lab, MESH_NS, &addr, n, args);
        let peak = sampler.stop();
        std::thread::sleep(Duration::from_secs(args.after_close));
        let after: Vec<f64> = pids.iter().filter_map(|&pid| rss_mib(pid)).collect();
        let memory = AgentMemory::new(&idle, &peak, &after, n);
        report
            .cases
            .push(ScaleCase::new(carrier, n, load, Some(memory)));
    }
    Ok(())
}

/// `n` connections from the namespace's client to `addr` at the fixed total rate; measured
/// once every connection has had its first turn (they open staggered over one period).
fn run_fixed_rate(
    lab: &Lab,
    namespace: &str,
    addr: &str,
    n: u32,
    args: &ScaleArgs,
) -> Result<LoadResult> {
    let period = Duration::from_secs_f64(f64::from(n) / args.rate);
    let warmup = period + Duration::from_secs(2);
    let duration = Duration::from_secs(args.duration.max(1));
    let argv = vec![
        mesh_load_bin()?.to_string_lossy().into_owned(),
        "--addr".into(),
        addr.into(),
        "--connections".into(),
        n.to_string(),
        "--rate".into(),
        args.rate.to_string(),
        "--size".into(),
        MESSAGE_SIZE.to_string(),
        "--duration".into(),
        format!("{}ms", duration.as_millis()),
        "--warmup".into(),
        format!("{}ms", warmup.as_millis()),
    ];
    let client = ClientPlace::Pod(ExecTarget::Pod {
        namespace: namespace.into(),
        name: "client".into(),
    });
    eprintln!(
        "==> {n} connections at {} req/s to {addr} ({namespace})",
        args.rate
    );
    run_argv(lab, &client, &argv, warmup + duration)
        .with_context(|| format!("{n} connections to {addr}"))
}

/// The largest RSS each agent reached while a run went on, read by a thread of its own.
struct PeakRss {
    running: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<Vec<f64>>,
}

impl PeakRss {
    fn start(pids: Vec<i32>) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let still = running.clone();
        let reader = std::thread::spawn(move || {
            let mut peak = vec![0.0f64; pids.len()];
            while still.load(Ordering::Relaxed) {
                for (peak, &pid) in peak.iter_mut().zip(&pids) {
                    *peak = peak.max(rss_mib(pid).unwrap_or(0.0));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            peak
        });
        Self { running, reader }
    }

    fn stop(self) -> Vec<f64> {
        self.running.store(false, Ordering::Relaxed);
        self.reader.join().unwrap_or_default()
    }
}

/// Lets this process and everything the lab starts (agents, pods, load) hold many sockets: the
/// limit goes to [`OPEN_FILES`] when this process may raise its hard limit (`CAP_SYS_RESOURCE`),
/// else the soft limit goes up to the hard one and the bench says which limit the cases ran under.
fn raise_open_files() -> Result<()> {
    let wanted = libc::rlimit {
        rlim_cur: OPEN_FILES,
        rlim_max: OPEN_FILES,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
        return Ok(());
    }
    let refused = std::io::Error::last_os_error();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given; setrlimit reads it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(error).context("reading the open files limit");
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(error).context("raising the open files soft limit to the hard limit");
    }
    eprintln!(
        "note: the open files limit stays at {} ({refused} raising it to {OPEN_FILES}): a case \
         whose sockets need more fails with errors",
        limit.rlim_max
    );
    Ok(())
}
