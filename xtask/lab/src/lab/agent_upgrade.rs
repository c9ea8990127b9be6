//! `lab agent upgrade NODE`: a successor agent for a node, which takes the running agent's
//! listeners over its hand-over socket; both run (both pids in `lab status`) while the old one
//! drains. Done when the successor logs `hand-over done`.

use super::agent::spawn_agent;
use super::agent_process as process;
use super::Lab;
use anyhow::{bail, Result};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a hand-over may take.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(30);
/// What the successor logs once the predecessor stopped accepting.
const DONE: &str = "hand-over done";

impl Lab {
    /// `lab agent upgrade NODE`: starts a successor and waits until it took over. With
    /// `bpf_object`, the successor loads that object instead (a broken new version, for tests):
    /// it fails before it is ready and the running agent carries on.
    pub fn upgrade_agent(&self, node: &str, bpf_object: Option<&Path>) -> Result<u32> {
        let node = self.node_named(node)?;
        let own = self.agent_cgroup(node);
        if process::pids(&own).is_empty() {
            bail!(
                "the agent on {} is not running: nothing to upgrade",
                node.name
            );
        }
        let log = self.dir.agent_log(&node.name);
        let offset = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let pid = spawn_agent(self, node, bpf_object)?;
        let started = Instant::now();
        loop {
            if logged_since(&log, offset, DONE) {
                return Ok(pid);
            }
            let alive = process::pids(&own).contains(&(pid as i32));
            if !alive || started.elapsed() >= HANDOVER_TIMEOUT {
                let what = if alive { "did not take over" } else { "exited" };
                bail!(
                    "the successor agent on {} (pid {pid}) {what} after {:.1}s; the end of {}:\n{}",
                    node.name,
                    started.elapsed().as_secs_f32(),
                    log.display(),
                    process::log_tail(&log, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether `needle` was written to `log` past `offset`.
fn logged_since(log: &Path, offset: u64, needle: &str) -> bool {
    let Ok(mut file) = std::fs::File::open(log) else {
        return false;
    };
    let mut text = String::new();
    file.seek(SeekFrom::Start(offset)).is_ok()
        && file.read_to_string(&mut text).is_ok()
        && text.contains(needle)
}
