//! The demo's preparation, one step at a time, each saying what it does and how long it took.

use super::screen::TrafficFigures;
use super::stop::StopWatch;
use crate::build_ebpf::{self, workspace_root};
use crate::lab::target_dir;
use crate::lab::{ExecTarget, Lab};
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many times the frontend is asked before the traffic is shown anyway.
const READY_ATTEMPTS: u32 = 15;

/// Runs `work` as a named step: `==> what` before, `==> what: done in 1.2s` after.
pub fn step<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let result = work().with_context(|| format!("{what} failed"))?;
    eprintln!(
        "==> {what}: done in {:.1}s",
        started.elapsed().as_secs_f32()
    );
    Ok(result)
}

/// The cargo profile the demo's binaries are built with (`[profile.demo]`: optimized, no fat
/// LTO), and so the directory under `target/` they land in.
pub const PROFILE: &str = "demo";

/// Builds what the lab runs — the user-space binaries (`xtask` itself, `sample-app`,
/// `mesh-agent`, `mesh-cni`) with the demo profile and the eBPF object the agents load — then,
/// unless this is already the demo profile's `xtask`, runs the same command from it (with
/// `--no-build`), so the lab's pods and agents are the optimized binaries next to it.
pub fn build_and_rerun() -> Result<()> {
    step(
        &format!("building the user-space binaries (--profile {PROFILE}: optimized, no fat LTO)"),
        || {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace_root())
                .args(["build", "--profile", PROFILE, "--bins"])
                .args([
                    "-p",
                    "xtask",
                    "-p",
                    "mesh-agent",
                    "-p",
                    "mesh-cni",
                    "-p",
                    "mesh-workloads",
                ])
                .status()
                .context("could not start cargo")?;
            if !status.success() {
                bail!("cargo build exited with {status}");
            }
            Ok(())
        },
    )?;
    let release = build_ebpf::Options { release: true };
    step("building the eBPF programs (mesh-ebpf)", || {
        build_ebpf::run(&release)
    })?;
    let exe = std::env::current_exe()?;
    if exe.parent().and_then(|dir| dir.file_name()) == Some(PROFILE.as_ref()) {
        return Ok(());
    }
    let optimized = target_dir().join(PROFILE).join("xtask");
    eprintln!("==> running the demo from {}", optimized.display());
    let err = Command::new(&optimized)
        .args(std::env::args_os().skip(1))
        .arg("--no-build")
        .exec();
    Err(err).with_context(|| format!("starting {}", optimized.display()))
}

/// Asks `url` (with `headers`, `NAME:VALUE`) once a second (at most [`READY_ATTEMPTS`] times)
/// until it answers 2xx; if it never does, says so and lets the demo show what happens.
pub fn wait_until_answering(
    lab: &Lab,
    client: &ExecTarget,
    url: &str,
    headers: &[&str],
    watch: &StopWatch,
) -> Result<()> {
    let mut argv: Vec<String> = [
        "sample-app",
        "load",
        "--url",
        url,
        "--requests",
        "1",
        "--timeout",
        "1s",
    ]
    .map(String::from)
    .to_vec();
    for header in headers {
        argv.extend(["--header".to_string(), header.to_string()]);
    }
    for _ in 0..READY_ATTEMPTS {
        if watch.reason().is_some() {
            return Ok(());
        }
        let output = lab
            .exec_command(client, &argv)?
            .stderr(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let answered = text
            .lines()
            .filter_map(TrafficFigures::parse)
            .any(|f| f.summary && f.ok == 1);
        if answered {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!("    {url} did not answer after {READY_ATTEMPTS} tries: showing the traffic anyway");
    Ok(())
}
