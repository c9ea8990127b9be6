//! The agent's memory at rest with 100 enrolled pods: a one-node lab of 100 meshed `sleep` pods.

use super::proc_stats::{find_agents, rss_mib};
use super::topology;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// How long the agent gets to settle after the last pod is enrolled.
const SETTLE: Duration = Duration::from_secs(3);

/// The agent's resident memory with `pods` enrolled pods and no traffic.
#[derive(Clone, Debug, Serialize)]
pub struct IdleMemory {
    /// `ok` or `skipped`.
    pub status: &'static str,
    pub reason: Option<String>,
    /// Meshed pods in the lab.
    pub pods: usize,
    pub agent_rss_mib: Option<f64>,
}

/// Brings up the idle lab (replacing the benchmark lab) and reads the agent's VmRSS.
pub fn measure() -> Result<IdleMemory> {
    let lab = topology::up(1, "idle-100.yaml", "")?;
    let pods = lab.pods().iter().filter(|p| p.meshed()).count();
    std::thread::sleep(SETTLE);
    let rss = find_agents(&lab)
        .iter()
        .filter_map(|a| rss_mib(a.pid))
        .reduce(f64::max);
    Ok(match rss {
        Some(rss) => IdleMemory {
            status: "ok",
            reason: None,
            pods,
            agent_rss_mib: Some(rss),
        },
        None => IdleMemory {
            status: "skipped",
            reason: Some("no agent running in the lab (xtask/lab/src/lab/agent.rs)".into()),
            pods,
            agent_rss_mib: None,
        },
    })
}
