//! Running `mesh-load` inside the lab (in a pod, or in a pod's netns outside its cgroup) and
//! reading its one-line JSON summary.

use super::release::mesh_load_bin;
use crate::lab::{ExecTarget, Lab};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes per request and per response (the benchmark's 1 KiB).
pub const MESSAGE_SIZE: usize = 1024;
/// Extra time a load run may take past its duration before it is killed.
const GRACE: Duration = Duration::from_secs(20);

/// Where the load generator runs.
#[derive(Clone, Debug)]
pub enum ClientPlace {
    /// In a pod: its netns and its cgroup (so the mesh's cgroup hooks see it).
    Pod(ExecTarget),
    /// In a pod's netns but outside every lab cgroup: no cgroup hook runs.
    NetnsOnly(String),
}

/// One run of the load generator.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub addr: String,
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
    pub new_connection_per_request: bool,
}

/// `mesh-load`'s summary line.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoadResult {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    /// Absent from older summaries.
    #[serde(default)]
    pub p999_us: u64,
    pub errors: u64,
}

/// Runs `spec` from `place` and returns its summary.
pub fn run_load(lab: &Lab, place: &ClientPlace, spec: &LoadSpec) -> Result<LoadResult> {
    let argv = load_argv(spec)?;
    run_argv(lab, place, &argv, spec.warmup + spec.duration)
        .with_context(|| format!("mesh-load --addr {} from {place:?}", spec.addr))
}

/// Runs `argv` (`mesh-load` and its options) from `place`, killed when it takes `expected`
/// plus a grace period, and returns its summary.
pub fn run_argv(
    lab: &Lab,
    place: &ClientPlace,
    argv: &[String],
    expected: Duration,
) -> Result<LoadResult> {
    let mut cmd = match place {
        ClientPlace::Pod(target) => lab.exec_command(target, argv)?,
        ClientPlace::NetnsOnly(netns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", netns]).args(argv);
            cmd
        }
    };
    let stdout = output_within(&mut cmd, expected + GRACE)?;
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("mesh-load printed {stdout:?}"))
}

fn load_argv(spec: &LoadSpec) -> Result<Vec<String>> {
    let mut argv = vec![
        mesh_load_bin()?.to_string_lossy().into_owned(),
        "--addr".into(),
        spec.addr.clone(),
        "--connections".into(),
        spec.connections.to_string(),
        "--size".into(),
        MESSAGE_SIZE.to_string(),
        "--duration".into(),
        format!("{}ms", spec.duration.as_millis()),
        "--warmup".into(),
        format!("{}ms", spec.warmup.as_millis()),
    ];
    if spec.new_connection_per_request {
        argv.push("--new-connection-per-request".into());
    }
    Ok(argv)
}

/// Runs `cmd`, killing it after `limit`; its stdout when it exits successfully.
fn output_within(cmd: &mut Command, limit: Duration) -> Result<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("killed after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = stdout
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))?;
    let err = stderr
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))?;
    if !status.success() {
        bail!("exited with {status}: {}", err.trim());
    }
    Ok(out)
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}
