//! The connection-scale benchmark's results: latency and errors per case, p99 against direct's
//! at the same N, the agents' memory (idle, at N, per connection, after close), the table on
//! stdout and the same figures as JSON in `target/bench/scale.json`.

use super::cases::Carrier;
use super::load::LoadResult;
use super::release::{profile, target_dir};
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// Everything one `bench scale` run measured.
#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub profile: String,
    pub rate: f64,
    pub duration_s: u64,
    pub after_close_s: u64,
    pub cases: Vec<ScaleCase>,
    pub notes: Vec<String>,
}

/// One carrier at one N.
#[derive(Debug, Serialize)]
pub struct ScaleCase {
    pub carrier: Carrier,
    pub connections: u32,
    /// `ok`, or what failed.
    pub status: String,
    pub load: Option<LoadResult>,
    pub p99_vs_direct: Option<f64>,
    pub agents: Option<AgentMemory>,
}

/// The agents' resident memory around one mesh case: the agent that grew most.
#[derive(Debug, Serialize)]
pub struct AgentMemory {
    pub idle_mib: f64,
    pub at_n_mib: f64,
    pub per_connection_kib: f64,
    pub after_close_mib: f64,
    /// After close over idle (1.10 = 10 % above).
    pub after_close_vs_idle: f64,
}

impl AgentMemory {
    /// From each agent's RSS idle, at its peak while the `n` connections were open, and after.
    pub fn new(idle: &[f64], peak: &[f64], after: &[f64], n: u32) -> Self {
        let grew = |i: usize| peak.get(i).copied().unwrap_or(0.0) - idle[i];
        let most = (0..idle.len().min(peak.len()))
            .max_by(|&a, &b| grew(a).total_cmp(&grew(b)))
            .unwrap_or(0);
        let idle_mib = idle.get(most).copied().unwrap_or(0.0);
        let after_close_mib = after.get(most).copied().unwrap_or(0.0);
        Self {
            idle_mib,
            at_n_mib: peak.get(most).copied().unwrap_or(0.0),
            per_connection_kib: grew(most).max(0.0) * 1024.0 / f64::from(n.max(1)),
            after_close_mib,
            after_close_vs_idle: after_close_mib / idle_mib.max(f64::MIN_POSITIVE),
        }
    }
}

impl ScaleCase {
    pub fn new(
        carrier: Carrier,
        connections: u32,
        load: Result<LoadResult>,
        agents: Option<AgentMemory>,
    ) -> Self {
        let (status, load) = match load {
            Ok(load) => ("ok".to_string(), Some(load)),
            Err(err) => (format!("{err:#}"), None),
        };
        Self {
            carrier,
            connections,
            status,
            load,
            p99_vs_direct: None,
            agents,
        }
    }
}

impl ScaleReport {
    pub fn new(rate: f64, duration_s: u64, after_close_s: u64) -> Self {
        Self {
            profile: profile(),
            rate,
            duration_s,
            after_close_s,
            cases: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Each mesh case's p99 over direct's at the same N.
    pub fn fill_ratios(&mut self) {
        let direct_p99 = |n: u32, cases: &[ScaleCase]| {
            let direct = cases
                .iter()
                .find(|c| c.carrier == Carrier::Direct && c.connections == n)?;
            direct.load.as_ref().map(|l| l.p99_us)
        };
        let ratios: Vec<_> = self
            .cases
            .iter()
            .map(|c| {
                let p99 = c.load.as_ref()?.p99_us as f64;
                Some(p99 / direct_p99(c.connections, &self.cases)?.max(1) as f64)
            })
            .collect();
        for (case, ratio) in self.cases.iter_mut().zip(ratios) {
            case.p99_vs_direct = ratio.filter(|_| case.carrier != Carrier::Direct);
        }
    }

    pub fn print(&self) {
        println!(
            "\nconnection scale ({} build): TCP {} B, {} req/s in total over N long-lived \
             connections, cross-node; agent RSS read {} s after close",
            self.profile,
            super::load::MESSAGE_SIZE,
            self.rate,
            self.after_close_s
        );
        println!(
            "{:<16} {:>6} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>13}",
            "carrier",
            "N",
            "p50 µs",
            "p99 µs",
            "errors",
            "p99/dir",
            "idle MiB",
            "at N MiB",
            "KiB/conn",
            "after close"
        );
        for case in &self.cases {
            println!("{}", row(case));
        }
        for note in &self.notes {
            println!("note: {note}");
        }
    }

    pub fn write(&self) -> Result<PathBuf> {
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("scale.json");
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

fn row(case: &ScaleCase) -> String {
    let carrier = match case.carrier {
        Carrier::Direct => "direct",
        Carrier::MeshPlaintext => "mesh plaintext",
        Carrier::Mesh => "mesh mTLS",
        Carrier::MeshAccel => "mesh sk_msg",
        Carrier::MeshSplice => "mesh splice",
        Carrier::Haproxy => "haproxy",
    };
    let Some(load) = &case.load else {
        return format!(
            "{carrier:<16} {:>6} failed: {}",
            case.connections, case.status
        );
    };
    let ratio = case
        .p99_vs_direct
        .map_or("-".into(), |r| format!("{r:.2}×"));
    let memory = case.agents.as_ref().map_or(String::new(), |m| {
        format!(
            " {:>8.1} {:>8.1} {:>8.1} {:>6.1} ({:+.0} %)",
            m.idle_mib,
            m.at_n_mib,
            m.per_connection_kib,
            m.after_close_mib,
            (m.after_close_vs_idle - 1.0) * 100.0
        )
    });
    format!(
        "{carrier:<16} {:>6} {:>9} {:>9} {:>7} {:>8}{memory}",
        case.connections, load.p50_us, load.p99_us, load.errors, ratio
    )
}
