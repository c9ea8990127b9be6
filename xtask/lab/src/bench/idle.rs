//! The agent's memory at rest with 100 enrolled pods: a one-node lab of 100 meshed `sleep` pods,
//! once sharing one ServiceAccount (`idle-100.yaml`: one workload certificate) and once with a
//! ServiceAccount each (generated: 100 certificates, as 100 distinct workloads would hold).

use super::http_telemetry::{metric_sum, metrics_text};
use super::proc_stats::{find_agents, rss_mib};
use super::release::target_dir;
use super::topology::{self, Security};
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How long the agent gets to settle (and its certificates to be issued) after the last pod.
const SETTLE: Duration = Duration::from_secs(3);
/// Pods in the idle lab.
const PODS: usize = 100;

/// The agent's resident memory with `pods` enrolled pods and no traffic.
#[derive(Clone, Debug, Serialize)]
pub struct IdleMemory {
    /// `ok` or `skipped`.
    pub status: &'static str,
    pub reason: Option<String>,
    /// Meshed pods in the lab.
    pub pods: usize,
    /// Workload certificates the agent holds (`mesh_certificates`).
    pub certificates: Option<u64>,
    pub agent_rss_mib: Option<f64>,
}

/// Which pods' identities the idle lab has.
#[derive(Clone, Copy, Debug)]
pub enum Identities {
    /// Every pod the `default` ServiceAccount.
    Shared,
    /// A ServiceAccount per pod.
    OnePerPod,
}

/// Brings up the idle lab (replacing the benchmark lab) and reads the agent's VmRSS.
pub fn measure(identities: Identities) -> Result<IdleMemory> {
    let path = match identities {
        Identities::Shared => topology::bench_file("idle-100.yaml"),
        Identities::OnePerPod => write_identities_yaml()?,
    };
    let lab = topology::up_from(1, &path, "", Security::Mtls)?;
    let pods = lab.pods().iter().filter(|p| p.meshed()).count();
    std::thread::sleep(SETTLE);
    let certificates = metrics_text(&lab, "node-1")
        .ok()
        .and_then(|text| metric_sum(&text, "mesh_certificates"))
        .map(|n| n as u64);
    let rss = find_agents(&lab)
        .iter()
        .filter_map(|a| rss_mib(a.pid))
        .reduce(f64::max);
    let (status, reason) = match rss {
        Some(_) => ("ok", None),
        None => (
            "skipped",
            Some("no agent running in the lab (xtask/lab/src/lab/agent.rs)".into()),
        ),
    };
    Ok(IdleMemory {
        status,
        reason,
        pods,
        certificates,
        agent_rss_mib: rss,
    })
}

/// `target/bench/idle-100-identities.yaml`: [`PODS`] pods, a ServiceAccount each.
fn write_identities_yaml() -> Result<PathBuf> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("idle-100-identities.yaml");
    std::fs::write(&path, identities_yaml(PODS))?;
    Ok(path)
}

fn identities_yaml(pods: usize) -> String {
    let namespace =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-idle\n  labels:\n    \
                     istio.io/dataplane-mode: ambient\n";
    let pods = (0..pods).map(|n| {
        format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sleeper-{n}, namespace: \
             bench-idle}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: sleeper-{n}, \
             namespace: bench-idle}}\nspec:\n  serviceAccountName: sleeper-{n}\n  containers:\n    \
             - {{name: sleeper, command: [sleep, infinity]}}\n"
        )
    });
    std::iter::once(namespace.to_string())
        .chain(pods)
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn every_idle_pod_has_its_own_service_account() {
        let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&identities_yaml(2))
            .map(|d| serde_yaml::Value::deserialize(d).unwrap())
            .collect();
        let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ServiceAccount",
                "Pod",
                "ServiceAccount",
                "Pod"
            ]
        );
        assert_eq!(docs[4]["spec"]["serviceAccountName"], "sleeper-1");
    }
}
