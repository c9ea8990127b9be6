//! One node agent as a process: started in the node's netns (`setns` before exec, so the host's
//! mounts — bpffs, cgroup2 — stay visible) and in its own cgroup `<lab root>/agents/node-N`,
//! outside the pods' subtrees; found again by that cgroup, also after a crash; stopped with
//! SIGTERM, then SIGKILL after a bounded wait.

use super::cgroup;
use super::paths::bin_dirs;
use anyhow::{bail, Context, Result};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Extra flags for every agent the lab starts (e.g. `--sk-msg-accel`), split on whitespace.
pub const AGENT_ARGS_ENV: &str = "MESH_LAB_AGENT_ARGS";
/// Where the agents pin their maps: `<dir>/<lab>-node-N`.
pub const PIN_ROOT: &str = "/sys/fs/bpf/mesh";
/// How long an agent gets to drain, detach and unenroll after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The agents' `--drain-time`, seconds: below [`STOP_TIMEOUT`], so a drain ends on its own
/// (connections still open closed, pods unenrolled) before SIGKILL would cut it short.
const DRAIN_TIME_SECS: &str = "5";

/// Everything one agent is started with.
pub struct AgentLaunch<'a> {
    pub node: &'a str,
    pub node_netns: &'a str,
    /// The node's pod subtree, where the programs attach.
    pub attach_cgroup: &'a Path,
    /// The agent's own cgroup.
    pub own_cgroup: &'a Path,
    pub config_dir: &'a Path,
    pub socket: &'a Path,
    /// The admin endpoints' Unix socket.
    pub admin_socket: &'a Path,
    pub log: &'a Path,
    /// Another eBPF object than the built one (a broken successor, in tests).
    pub bpf_object: Option<&'a Path>,
    /// `--fail-closed`.
    pub fail_closed: bool,
    /// The flags pointing it at the lab's CA (`--ca-address` and the rest) and DNS
    /// (`--dns-server`), naming the gateway it plays (`--gateway-labels`) and where certificate
    /// files may be (`--tls-file-dir`).
    pub lab_args: Vec<String>,
}

/// `<lab root>/agents`: the agents' cgroups, one per node.
pub fn agents_cgroup(lab_root: &Path) -> PathBuf {
    lab_root.join("agents")
}

/// The pin directory of a node's agent.
pub fn pin_dir(node_netns: &str) -> PathBuf {
    Path::new(PIN_ROOT).join(node_netns)
}

/// Starts the agent (not waiting for it to be ready); its pid.
pub fn spawn(launch: &AgentLaunch) -> Result<u32> {
    let agent = binary()?;
    let object = match launch.bpf_object {
        Some(object) => object.to_path_buf(),
        None => bpf_object()?,
    };
    cgroup::create(launch.own_cgroup)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.log)
        .with_context(|| format!("opening {}", launch.log.display()))?;
    let mut cmd = Command::new(&agent);
    cmd.arg("run")
        .arg("--config-dir")
        .arg(launch.config_dir)
        .args(["--node-name", launch.node, "--cgroup"])
        .arg(launch.attach_cgroup)
        .arg("--bpf-object")
        .arg(&object)
        .arg("--bpf-pin-dir")
        .arg(pin_dir(launch.node_netns))
        .arg("--enroll-socket")
        .arg(launch.socket)
        .arg("--admin-socket")
        .arg(launch.admin_socket)
        // Per node too: a successor finds its own node's agent there (`lab agent upgrade`).
        .arg("--handover-socket")
        .arg(launch.socket.with_extension("handover"))
        // Next to the socket, per node: agents of one lab share the host's /run.
        .arg("--state-dir")
        .arg(launch.socket.with_extension("state"))
        .args([
            "--metrics-addr",
            "0.0.0.0:15020",
            "--ready-addr",
            "0.0.0.0:15021",
            "--drain-time",
            DRAIN_TIME_SECS,
        ])
        .args(launch.fail_closed.then_some("--fail-closed"))
        .args(&launch.lab_args)
        .args(extra_args())
        .env(WORKER_THREADS_ENV, worker_threads())
        .env("NO_COLOR", "1") // a log file, not a terminal
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let netns_path = Path::new("/run/netns").join(launch.node_netns);
    let netns = std::fs::File::open(&netns_path)
        .with_context(|| format!("opening {}", netns_path.display()))?;
    let netns_fd = netns.as_raw_fd();
    let mut enter = cgroup::enter_hook(launch.own_cgroup)?;
    // SAFETY: the hook only makes async-signal-safe calls (open/write/close, setns, setsid).
    unsafe {
        cmd.pre_exec(move || {
            enter()?;
            if libc::setns(netns_fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} for {}", agent.display(), launch.node))?;
    drop(netns);
    let pid = child.id();
    // Reap it when it exits, for long-running callers (the demo).
    std::thread::spawn(move || child.wait());
    Ok(pid)
}

/// The pids in the agent's cgroup (none when it is not running).
pub fn pids(own_cgroup: &Path) -> Vec<i32> {
    std::fs::read_to_string(own_cgroup.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Stops every agent under `agents_cgroup` (SIGTERM, then SIGKILL after a bounded wait) and
/// removes their cgroups. Nothing to do when there are none.
pub fn stop_all(agents_cgroup: &Path) -> Result<()> {
    if !agents_cgroup.exists() {
        return Ok(());
    }
    signal_tree(agents_cgroup, libc::SIGTERM);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while cgroup::is_populated(agents_cgroup) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if cgroup::is_populated(agents_cgroup) {
        eprintln!(
            "agents in {} did not stop within {STOP_TIMEOUT:?}: killing them",
            agents_cgroup.display()
        );
    }
    cgroup::remove_tree(agents_cgroup)
}

/// Sends `signal` to every process in the cgroup subtree.
fn signal_tree(root: &Path, signal: i32) {
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for pid in pids(&dir) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, signal) };
        }
        let children = std::fs::read_dir(&dir).into_iter().flatten().flatten();
        dirs.extend(children.map(|e| e.path()).filter(|p| p.is_dir()));
    }
}

/// Removes the pin directories of lab `lab`'s agents (`<lab>-node-<digits>`), left by a crash.
pub fn remove_pins(lab: &str) -> Result<()> {
    let prefix = format!("{lab}-node-");
    for entry in std::fs::read_dir(PIN_ROOT).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_ours = name
            .strip_prefix(&prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_ours {
            super::teardown::remove_dir(&entry.path())?;
        }
    }
    // Only succeeds when no other agent pins there.
    let _ = std::fs::remove_dir(PIN_ROOT);
    Ok(())
}

/// The `mesh-agent` binary: in the running program's profile directory, else in `target/debug`.
pub fn binary() -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = bin_dirs()
        .into_iter()
        .map(|d| d.join("mesh-agent"))
        .collect();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(path.clone()),
        None => bail!(
            "mesh-agent is not built (looked at {candidates:?}): run \
             `cargo build --bins -p mesh-agent -p mesh-workloads`"
        ),
    }
}

/// The eBPF object: `$MESH_BPF_OBJECT`, else `target/bpfel-unknown-none/release/mesh-ebpf`.
fn bpf_object() -> Result<PathBuf> {
    let object = match std::env::var_os("MESH_BPF_OBJECT").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => super::paths::target_dir().join("bpfel-unknown-none/release/mesh-ebpf"),
    };
    if !object.is_file() {
        bail!(
            "the eBPF object {} is missing: run `cargo xtask build-ebpf --release`",
            object.display()
        );
    }
    Ok(object)
}

/// The agent's worker-thread count (`--worker-threads` in MESH_LAB_AGENT_ARGS wins over it).
const WORKER_THREADS_ENV: &str = "MESH_WORKER_THREADS";

/// One worker thread per lab agent unless the environment says otherwise: the lab's nodes
/// share this machine's CPUs, so each node stands for a node of about one CPU, and a second
/// worker thread per agent only adds cross-thread wake-ups (measured: ~15% more agent CPU per
/// HTTP request with two).
fn worker_threads() -> String {
    std::env::var(WORKER_THREADS_ENV).unwrap_or_else(|_| "1".into())
}

fn extra_args() -> Vec<String> {
    std::env::var(AGENT_ARGS_ENV)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The last `lines` lines of a log, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
