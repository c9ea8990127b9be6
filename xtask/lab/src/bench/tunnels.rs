//! `bench l4`'s new tunnels: [`CLIENTS`] meshed client pods on node-1, each its own
//! ServiceAccount (so its own pooled mTLS tunnel to the cross-node server), all sending new
//! connections at once. In the first burst each pod's first connection sets its tunnel up (TLS
//! 1.3 handshake both ways, HTTP/2, CONNECT); in the second, right after, every tunnel is
//! pooled. The agents' CPU over the two bursts gives the CPU of one tunnel set-up, and so the
//! new tunnels per second one core of each agent can open.

use super::load::{run_load, ClientPlace, LoadResult, LoadSpec};
use super::proc_stats::Meter;
use super::release::target_dir;
use super::topology::{self, MESH_NS};
use crate::lab::{ExecTarget, Lab};
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::process::Command;
use std::time::Duration;

/// Client pods, one identity each.
const CLIENTS: usize = 32;
/// Each pod's burst: one connection at a time, a new one per request, this long.
const BURST: Duration = Duration::from_millis(500);
/// Time for the new pods' certificates to be issued before the first burst.
const SETTLE: Duration = Duration::from_secs(3);
/// The destination pods' tunnel port.
const TUNNEL_PORT: u16 = 15008;

/// What the two bursts measured.
#[derive(Clone, Debug, Serialize)]
pub struct NewTunnels {
    /// Client pods (= distinct source identities = tunnels expected).
    pub clients: usize,
    /// Tunnels seen established from the client pods after the first burst.
    pub tunnels_seen: usize,
    /// Connections (requests) per burst.
    pub fresh_requests: u64,
    pub pooled_requests: u64,
    /// The agents' CPU (both summed) per burst, ms.
    pub fresh_cpu_ms: f64,
    pub pooled_cpu_ms: f64,
    /// Agent CPU of one tunnel set-up (both ends), µs.
    pub cpu_us_per_tunnel: Option<f64>,
}

impl NewTunnels {
    /// New tunnels per second one core of each agent sets up (CPU-bound estimate).
    pub fn per_second(&self) -> Option<f64> {
        self.cpu_us_per_tunnel
            .filter(|us| *us > 0.0)
            .map(|us| 2.0 * 1e6 / us)
    }
}

/// Adds the client pods to `lab`, then runs both bursts against the cross-node Service.
pub fn measure(lab: &mut Lab, agents: &[i32]) -> Result<NewTunnels> {
    let path = target_dir().join("bench").join("l4-tunnel-clients.yaml");
    std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
    std::fs::write(&path, clients_yaml(CLIENTS))?;
    lab.apply(&[path])?;
    std::thread::sleep(SETTLE);
    let addr = topology::service_addr(lab, MESH_NS, "server")?;
    eprintln!("==> new tunnels: {CLIENTS} identities → {addr}, fresh then pooled");
    let (fresh, fresh_cpu_ms) = burst(lab, &addr, agents)?;
    let tunnels_seen = (0..CLIENTS)
        .map(|n| open_tunnels(lab, n))
        .sum::<Result<usize>>()?;
    let (pooled, pooled_cpu_ms) = burst(lab, &addr, agents)?;
    let (fresh_requests, pooled_requests) = (requests(&fresh), requests(&pooled));
    let pooled_per_request = pooled_cpu_ms / pooled_requests.max(1) as f64;
    let setups = fresh_cpu_ms - pooled_per_request * fresh_requests as f64;
    Ok(NewTunnels {
        clients: CLIENTS,
        tunnels_seen,
        fresh_requests,
        pooled_requests,
        fresh_cpu_ms,
        pooled_cpu_ms,
        cpu_us_per_tunnel: (pooled_requests > 0).then(|| setups * 1e3 / CLIENTS as f64),
    })
}

/// Every client pod at once, one connection each, a new one per request; the agents' CPU, ms.
fn burst(lab: &Lab, addr: &str, agents: &[i32]) -> Result<(Vec<LoadResult>, f64)> {
    let spec = LoadSpec {
        addr: addr.into(),
        connections: 1,
        duration: BURST,
        warmup: Duration::ZERO,
        new_connection_per_request: true,
    };
    let meter = Meter::start(agents);
    let started = std::time::Instant::now();
    let results = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..CLIENTS)
            .map(|n| {
                let spec = &spec;
                scope.spawn(move || run_load(lab, &client(n), spec))
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().map_err(|_| anyhow!("a load thread panicked"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let usage = meter
        .finish()
        .ok_or_else(|| anyhow!("no agent to measure"))?;
    let cpu_ms = usage.cpu_percent / 100.0 * started.elapsed().as_secs_f64() * 1e3;
    Ok((results, cpu_ms))
}

fn requests(results: &[LoadResult]) -> u64 {
    results.iter().map(|r| r.requests + r.errors).sum()
}

/// Tunnel connections established from client pod `n` (to any pod's tunnel port).
fn open_tunnels(lab: &Lab, n: usize) -> Result<usize> {
    let pod = topology::pod(lab, MESH_NS, &client_name(n))?;
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            pod.netns(),
            "ss",
            "-Htn",
            "state",
            "established",
        ])
        .arg(format!("( dport = :{TUNNEL_PORT} )"))
        .output()
        .context("running ss")?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().count())
}

fn client(n: usize) -> ClientPlace {
    ClientPlace::Pod(ExecTarget::Pod {
        namespace: MESH_NS.into(),
        name: client_name(n),
    })
}

fn client_name(n: usize) -> String {
    format!("tunnel-client-{n}")
}

/// `count` client pods on node-1 in the mesh namespace, each with its own ServiceAccount.
fn clients_yaml(count: usize) -> String {
    (0..count)
        .map(|n| {
            let name = client_name(n);
            format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: \
                 {MESH_NS}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, \
                 namespace: {MESH_NS}}}\nspec:\n  nodeName: node-1\n  serviceAccountName: \
                 {name}\n  containers:\n    - {{name: client, command: [sleep, infinity]}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn each_client_pod_has_its_own_identity() {
        let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&clients_yaml(3))
            .map(|d| serde_yaml::Value::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 6);
        let accounts: Vec<_> = docs
            .iter()
            .filter(|d| d["kind"] == "Pod")
            .map(|d| d["spec"]["serviceAccountName"].as_str().unwrap())
            .collect();
        assert_eq!(
            accounts,
            ["tunnel-client-0", "tunnel-client-1", "tunnel-client-2"]
        );
        assert_eq!(docs[0]["kind"], "ServiceAccount");
    }

    #[test]
    fn the_rate_is_two_agent_cores_over_the_cpu_of_one_set_up() {
        let tunnels = NewTunnels {
            clients: 32,
            tunnels_seen: 32,
            fresh_requests: 100,
            pooled_requests: 100,
            fresh_cpu_ms: 20.0,
            pooled_cpu_ms: 10.0,
            cpu_us_per_tunnel: Some(400.0),
        };
        assert_eq!(tunnels.per_second(), Some(5_000.0));
    }
}
