//! CPU and memory of the proxies under test, from `/proc/<pid>/stat` and `/proc/<pid>/status`,
//! and finding a lab's agents among the host's processes.

use crate::lab::Lab;
use serde::Serialize;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

/// One look at a process: CPU time so far and resident memory.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    ticks: u64,
    rss_kib: u64,
}

/// What a set of processes used over a run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Usage {
    /// CPU time over wall time, summed over the processes (100 = one core busy).
    pub cpu_percent: f64,
    /// The largest resident set among the processes at the end, MiB.
    pub rss_mib: f64,
}

/// A lab agent: its pid and command line.
#[derive(Clone, Debug)]
pub struct AgentProcess {
    pub pid: i32,
    pub cmdline: String,
}

/// Samples processes at the start of a run; [`Meter::finish`] gives their usage.
pub struct Meter {
    pids: Vec<i32>,
    before: Vec<Option<ProcSample>>,
    started: Instant,
}

impl Meter {
    /// Starts measuring `pids`.
    pub fn start(pids: &[i32]) -> Meter {
        Meter {
            pids: pids.to_vec(),
            before: pids.iter().map(|&pid| sample(pid)).collect(),
            started: Instant::now(),
        }
    }

    /// The usage since [`Meter::start`]; `None` when there is no process to measure.
    pub fn finish(&self) -> Option<Usage> {
        let seconds = self.started.elapsed().as_secs_f64();
        let after: Vec<_> = self.pids.iter().map(|&pid| sample(pid)).collect();
        let pairs: Vec<_> = self.before.iter().zip(&after).collect();
        let ticks: u64 = pairs
            .iter()
            .filter_map(|(b, a)| Some(a.as_ref()?.ticks.saturating_sub(b.as_ref()?.ticks)))
            .sum();
        let rss_kib = after.iter().flatten().map(|s| s.rss_kib).max()?;
        Some(Usage {
            cpu_percent: 100.0 * ticks as f64 / clock_ticks() / seconds.max(1e-9),
            rss_mib: rss_kib as f64 / 1024.0,
        })
    }
}

/// The resident set of `pid` now, MiB.
pub fn rss_mib(pid: i32) -> Option<f64> {
    sample(pid).map(|s| s.rss_kib as f64 / 1024.0)
}

/// utime + stime and VmRSS of `pid`, `None` when it is gone.
fn sample(pid: i32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (rest.get(11)?.parse().ok()?, rest.get(12)?.parse().ok()?);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(ProcSample {
        ticks: utime + stime,
        rss_kib,
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The `mesh-agent` processes of `lab`: run in one of its nodes' netns, or reading its config.
pub fn find_agents(lab: &Lab) -> Vec<AgentProcess> {
    let node_netns: Vec<u64> = lab
        .nodes()
        .iter()
        .filter_map(|n| inode(&Path::new("/run/netns").join(n.netns())))
        .collect();
    let config_dir = lab.config_dir().to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            if comm.trim() != "mesh-agent" {
                return None;
            }
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            let netns = inode(Path::new(&format!("/proc/{pid}/ns/net")));
            let ours =
                netns.is_some_and(|ino| node_netns.contains(&ino)) || cmdline.contains(&config_dir);
            (ours && cmdline.contains(" run ")).then_some(AgentProcess { pid, cmdline })
        })
        .collect()
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}
