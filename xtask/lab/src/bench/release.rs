//! Benchmarks measure release binaries: when `cargo xtask` runs a debug build, build the release
//! binaries (`xtask`, `mesh-agent`, and `mesh-load` and `sample-app` from `mesh-workloads`) and
//! re-run the same command from them. The lab puts the running xtask's directory first on pods'
//! PATH, so pods then run the release binaries.

use crate::build_ebpf::{self, workspace_root};
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Returns when this process is a release build (or `allow_debug`, after building the eBPF
/// object); otherwise replaces it with the release build of the same command, built first.
pub fn ensure_release_build(allow_debug: bool) -> Result<()> {
    let exe = std::env::current_exe()?;
    let in_release = exe.parent().and_then(|dir| dir.file_name()) == Some("release".as_ref());
    if in_release {
        return Ok(());
    }
    // The lab's agents load the release object (`target/bpfel-unknown-none/release/mesh-ebpf`).
    build_ebpf::run(&build_ebpf::Options { release: true })?;
    if allow_debug {
        return Ok(());
    }
    build_release()?;
    let release_xtask = target_dir().join("release").join("xtask");
    eprintln!("==> re-running from {}", release_xtask.display());
    let err = Command::new(&release_xtask)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).with_context(|| format!("starting {}", release_xtask.display()))
}

/// `cargo build --release --bins -p xtask -p mesh-agent -p mesh-cni -p mesh-workloads`.
fn build_release() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args([
        "build",
        "--release",
        "--bins",
        "-p",
        "xtask",
        "-p",
        "mesh-agent",
        "-p",
        "mesh-cni",
        "-p",
        "mesh-workloads",
    ]);
    eprintln!(
        "==> cargo build --release --bins -p xtask -p mesh-agent -p mesh-cni -p mesh-workloads \
         (benchmarks measure release)"
    );
    let status = cmd.status().context("starting cargo")?;
    if !status.success() {
        bail!("building the release binaries failed ({status})");
    }
    Ok(())
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target"),
    }
}

/// The `mesh-load` binary next to the running xtask.
pub fn mesh_load_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("mesh-load");
    if !bin.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --bins -p mesh-workloads`",
            bin.display()
        );
    }
    Ok(bin)
}

/// The profile of the running binaries: the name of their directory (`release`, `debug`).
pub fn profile() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".into())
}
