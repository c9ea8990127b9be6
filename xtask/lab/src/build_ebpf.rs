//! `cargo xtask build-ebpf`: builds `mesh-ebpf` for `bpfel-unknown-none` with nightly: the
//! mesh's programs and the lab's stand-in for Cilium's socket load balancer.

use crate::toolchain::{ensure_ebpf_toolchain, NIGHTLY};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The kernel programs' target.
pub const BPF_TARGET: &str = "bpfel-unknown-none";

#[derive(clap::Args, Default)]
pub struct Options {
    /// Build with the release profile (what the agent loads by default).
    #[arg(long)]
    pub release: bool,
}

/// The workspace root (this crate lives in `xtask/lab/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("xtask/lab sits two levels below the workspace root")
        .to_path_buf()
}

/// The stand-in for Cilium's socket load balancer, a second object of `mesh-ebpf` built with
/// the mesh's (the lab's coexistence tests load it; the agent never does).
pub const SOCKET_LB_STAND_IN: &str = "socket-lb-stand-in";

/// Where the object for a profile lands.
pub fn object_path(release: bool) -> PathBuf {
    program_path(release, "mesh-ebpf")
}

/// Where the object `bin` of `mesh-ebpf` (`mesh-ebpf`, [`SOCKET_LB_STAND_IN`]) lands for a
/// profile.
pub fn program_path(release: bool, bin: &str) -> PathBuf {
    let profile = if release { "release" } else { "debug" };
    workspace_root()
        .join("target")
        .join(BPF_TARGET)
        .join(profile)
        .join(bin)
}

/// Builds the kernel programs and returns the object's path.
pub fn run(opts: &Options) -> Result<PathBuf> {
    ensure_ebpf_toolchain()?;
    eprintln!("==> building mesh-ebpf ({BPF_TARGET}, nightly)");
    let started = Instant::now();
    let mut cmd = Command::new("cargo");
    cmd.current_dir(workspace_root())
        .args([
            &format!("+{NIGHTLY}"),
            "build",
            "-p",
            "mesh-ebpf",
            "--target",
            BPF_TARGET,
        ])
        .args(["-Z", "build-std=core"])
        // The user-space toolchain's RUSTC would otherwise override the nightly one.
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env(
            "CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS",
            "-C debuginfo=2 -C link-arg=--btf",
        );
    if opts.release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("could not start cargo")?;
    if !status.success() {
        bail!("building mesh-ebpf failed ({status})");
    }
    let object = object_path(opts.release);
    eprintln!(
        "==> {} ({:.1}s)",
        object.display(),
        started.elapsed().as_secs_f32()
    );
    Ok(object)
}
