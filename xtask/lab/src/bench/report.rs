//! The L4 benchmark's results: ratios between cases, the table on stdout and the same figures as
//! JSON in `target/bench/l4.json`.

use super::cases::{Carrier, CaseReport};
use super::hook_cost::HookCost;
use super::idle::IdleMemory;
use super::release::target_dir;
use super::tunnels::NewTunnels;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// Everything one `bench l4` run measured.
#[derive(Debug, Serialize)]
pub struct L4Report {
    /// The build profile measured (`release`, or `debug` with `--debug-build`).
    pub profile: String,
    pub connections: u32,
    pub duration_s: f64,
    pub size_bytes: usize,
    pub cases: Vec<CaseReport>,
    /// The agents' largest RSS in the benchmark lab (6 pods) before any load, MiB.
    pub agent_rss_before_load_mib: Option<f64>,
    /// 100 pods sharing one identity (one workload certificate).
    pub idle_100_pods: Option<IdleMemory>,
    /// 100 pods, an identity (and a certificate) each.
    pub idle_100_identities: Option<IdleMemory>,
    /// Tunnel set-ups: CPU each and the rate it allows.
    pub new_tunnels: Option<NewTunnels>,
    pub connect_hook: Option<HookCost>,
    /// Why a part did not run, or what to keep in mind reading a figure.
    pub notes: Vec<String>,
}

impl L4Report {
    /// Fills every case's ratios to the direct path and to HAProxy on the same way.
    pub fn fill_ratios(&mut self) {
        let baseline = |carrier: Carrier, way| {
            self.cases
                .iter()
                .find(|c| c.carrier == carrier && c.way == way && c.status == "ok")
                .cloned()
        };
        let pairs: Vec<_> = self
            .cases
            .iter()
            .map(|c| {
                (
                    baseline(Carrier::Direct, c.way),
                    baseline(Carrier::Haproxy, c.way),
                )
            })
            .collect();
        for (case, (direct, haproxy)) in self.cases.iter_mut().zip(pairs) {
            if case.status != "ok" {
                continue;
            }
            if let Some(direct) = &direct {
                case.rps_vs_direct = ratio(case, direct, |c| c.throughput.as_ref().map(|l| l.rps));
                case.setup_vs_direct = ratio(case, direct, setup_rate);
                case.added_p50_us = one_p50(case).zip(one_p50(direct)).map(|(a, b)| a - b);
            }
            if let Some(haproxy) = &haproxy {
                case.rps_vs_haproxy =
                    ratio(case, haproxy, |c| c.throughput.as_ref().map(|l| l.rps));
                case.setup_vs_haproxy = ratio(case, haproxy, setup_rate);
            }
        }
    }

    /// Prints the table and the extra figures.
    pub fn print(&self) {
        println!(
            "\nL4 benchmark ({} build): {} B request/response, {} connections, {:.0} s per run\n",
            self.profile, self.size_bytes, self.connections, self.duration_s
        );
        println!(
            "{:<30} {:>9} {:>7} {:>7} {:>8} {:>7} {:>9} {:>6} {:>9} {:>7} {:>8} {:>8} {:>8}",
            "case",
            "req/s",
            "p50µs",
            "p99µs",
            "p50@1µs",
            "+µs@1",
            "conn/s",
            "cpu%",
            "cpuµs/req",
            "rssMiB",
            "×direct",
            "×haproxy",
            "conn×dir"
        );
        for case in &self.cases {
            println!("{}", row(case));
        }
        self.print_extras();
    }

    fn print_extras(&self) {
        println!("\ncpu% and rssMiB: the proxies on the path (agents: CPU summed, RSS largest).");
        println!(
            "cpuµs/req: the proxies' CPU time (user + kernel) per request of the throughput run."
        );
        println!(
            "+µs@1: one-connection p50 minus the direct path's (cross-node mesh = 2 agent hops)."
        );
        let mib = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} MiB"));
        println!(
            "agent RSS, benchmark lab before load: {}",
            mib(self.agent_rss_before_load_mib)
        );
        for idle in [&self.idle_100_pods, &self.idle_100_identities] {
            println!("{}", idle_line(idle.as_ref()));
        }
        if let Some(hook) = &self.connect_hook {
            println!("{}", hook_line(hook));
        }
        for note in &self.notes {
            println!("note: {note}");
        }
        self.print_mtls();
        println!(
            "\nbar (L4, README): ztunnel 0.45× plaintext, 0.20× mTLS, +63 µs TCP p50, 14 MiB \
             idle; aim 0.70×, 0.40× mTLS, <40 µs per hop, ≥ HAProxy rate, hook <5 µs, <30 MB idle."
        );
    }

    /// Writes `target/bench/l4.json` and returns its path.
    pub fn write(&self) -> Result<PathBuf> {
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("l4.json");
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

fn row(case: &CaseReport) -> String {
    let label = case.label();
    if case.status != "ok" {
        let reason = case.reason.clone().unwrap_or_default();
        return format!("{label:<30} {}: {reason}", case.status);
    }
    let (t, one) = (case.throughput.clone().unwrap_or_default(), one_p50(case));
    let num = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    format!(
        "{label:<30} {:>9.0} {:>7} {:>7} {:>8} {:>7} {:>9} {:>6} {:>9} {:>7} {:>8} {:>8} {:>8}",
        t.rps,
        t.p50_us,
        t.p99_us,
        num(one, 0),
        num(case.added_p50_us, 0),
        num(setup_rate(case), 0),
        num(case.proxy.map(|p| p.cpu_percent), 0),
        num(cpu_us_per_request(case), 1),
        num(case.proxy.map(|p| p.rss_mib), 1),
        num(case.rps_vs_direct, 2),
        num(case.rps_vs_haproxy, 2),
        num(case.setup_vs_direct, 2),
    )
}

fn idle_line(idle: Option<&IdleMemory>) -> String {
    let mib = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} MiB"));
    match idle {
        Some(idle) if idle.status == "ok" => format!(
            "agent RSS idle, {} enrolled pods, {} workload certificate(s): {}",
            idle.pods,
            idle.certificates.map_or("?".into(), |n| n.to_string()),
            mib(idle.agent_rss_mib)
        ),
        Some(idle) => format!(
            "agent RSS idle: skipped: {}",
            idle.reason.clone().unwrap_or_default()
        ),
        None => "agent RSS idle: not measured".into(),
    }
}

fn ratio(
    case: &CaseReport,
    base: &CaseReport,
    figure: fn(&CaseReport) -> Option<f64>,
) -> Option<f64> {
    let (value, base) = (figure(case)?, figure(base)?);
    (base > 0.0).then(|| value / base)
}

/// The proxies' CPU time per request over the throughput run: CPU share over request rate.
pub fn cpu_us_per_request(case: &CaseReport) -> Option<f64> {
    let rps = case.throughput.as_ref()?.rps;
    let cpu = case.proxy?.cpu_percent;
    (rps > 0.0).then(|| cpu / 100.0 * 1e6 / rps)
}

fn setup_rate(case: &CaseReport) -> Option<f64> {
    case.connection_setup.as_ref().map(|l| l.rps)
}

fn one_p50(case: &CaseReport) -> Option<f64> {
    case.one_connection.as_ref().map(|l| l.p50_us as f64)
}

fn hook_line(hook: &HookCost) -> String {
    let estimate = hook.estimated_us_per_connection;
    let verdict = if estimate < 1.0 {
        "hooked is not slower: the cost is below this method's resolution".to_string()
    } else {
        format!("~{estimate:.0} µs per connection")
    };
    format!(
        "connect hook (programs attached: {}): setup p50 {} µs hooked vs {} µs not ({:.0} vs \
         {:.0} conn/s, one at a time, median of 3 alternating runs) → {verdict}",
        hook.programs_attached,
        hook.with_hook.p50_us,
        hook.without_hook.p50_us,
        hook.with_hook.rps,
        hook.without_hook.rps,
    )
}
