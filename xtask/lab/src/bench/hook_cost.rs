//! The connect hook's cost, measured rather than guessed: the same pod-to-pod connection setup
//! (one connection at a time, a new one per request, same node) from inside the pods' cgroups —
//! where the agent's cgroup programs run and bypass the unenrolled pods — and from the same
//! network namespaces outside every lab cgroup, where no program runs. The difference of the
//! p50s is the hooks' cost per connection (connect4 + sock_ops on both ends).

use super::cases::Plan;
use super::load::{run_load, ClientPlace, LoadResult, LoadSpec};
use super::release::mesh_load_bin;
use super::topology::{pod, wait_listening, DIRECT_NS, SERVER_PORT};
use crate::lab::{ExecTarget, Lab};
use anyhow::{Context, Result};
use serde::Serialize;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The port of the server started outside the lab's cgroups.
const UNHOOKED_PORT: u16 = 9001;
/// Hooked and unhooked runs alternate this many times; the median run of each side counts,
/// which keeps a burst of noise on the shared machine from deciding the result.
const ROUNDS: u32 = 3;

/// Connection setup with and without the cgroup programs (the median of alternating runs).
#[derive(Clone, Debug, Serialize)]
pub struct HookCost {
    /// Whether an agent (and so its cgroup programs) was running.
    pub programs_attached: bool,
    /// Client and server in their pods' cgroups.
    pub with_hook: LoadResult,
    /// Client and server in the same netns, outside every lab cgroup.
    pub without_hook: LoadResult,
    /// `with_hook.p50_us - without_hook.p50_us`.
    pub estimated_us_per_connection: f64,
}

/// A process killed on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Measures setup from `bench-direct/client` to `bench-direct/server-local`, hooked and not.
pub fn measure(lab: &Lab, plan: &Plan, programs_attached: bool) -> Result<HookCost> {
    eprintln!("==> connect hook cost (same-node setup, one connection, hooked vs not)");
    let server = pod(lab, DIRECT_NS, "server-local")?;
    let client = pod(lab, DIRECT_NS, "client")?;
    let _unhooked = Reaped(
        Command::new("ip")
            .args(["netns", "exec", server.netns()])
            .arg(mesh_load_bin()?)
            .args(["serve", "--port", &UNHOOKED_PORT.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .context("starting the server outside the cgroups")?,
    );
    wait_listening(server.netns(), UNHOOKED_PORT)?;
    let spec = |port| LoadSpec {
        addr: format!("{}:{port}", server.ip()),
        connections: 1,
        duration: (plan.short / ROUNDS).max(Duration::from_secs(1)),
        warmup: plan.warmup,
        new_connection_per_request: true,
    };
    let in_pod = ClientPlace::Pod(ExecTarget::Pod {
        namespace: DIRECT_NS.into(),
        name: "client".into(),
    });
    let outside = ClientPlace::NetnsOnly(client.netns().to_string());
    let (mut hooked, mut unhooked) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        hooked.push(run_load(lab, &in_pod, &spec(SERVER_PORT))?);
        unhooked.push(run_load(lab, &outside, &spec(UNHOOKED_PORT))?);
    }
    let (with_hook, without_hook) = (median_run(hooked), median_run(unhooked));
    Ok(HookCost {
        programs_attached,
        estimated_us_per_connection: with_hook.p50_us as f64 - without_hook.p50_us as f64,
        with_hook,
        without_hook,
    })
}

/// The run with the median p50.
fn median_run(mut runs: Vec<LoadResult>) -> LoadResult {
    runs.sort_by_key(|r| r.p50_us);
    runs.swap_remove(runs.len() / 2)
}
