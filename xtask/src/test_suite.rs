//! `cargo xtask test`: every check CI runs, in order — formatting, clippy (user space and the
//! kernel programs), the eBPF build, unit and in-process tests, the privileged tests in the lab
//! with real eBPF (they print `skipped: <why>` when root or a kernel feature is missing), then a
//! short run of each fuzz target.

use anyhow::{bail, Context, Result};
use mesh_lab::build_ebpf::{self, workspace_root, BPF_TARGET};
use mesh_lab::toolchain::NIGHTLY;
use mesh_lab::{fuzz, packages};
use std::process::Command;
use std::time::Instant;

/// How long CI fuzzes each target: long enough to pass the seeds' neighbourhood, short enough
/// for every run (`cargo xtask fuzz --seconds N` goes further).
const FUZZ_SECONDS: u32 = 20;

/// The fuzz crate is outside the workspace: `fmt --all` does not reach it.
const FUZZ_FMT: [&str; 4] = [
    "fmt",
    "--manifest-path",
    "mesh-agent/fuzz/Cargo.toml",
    "--check",
];

#[derive(clap::Args)]
pub struct Options {
    /// Skip formatting and clippy (for quick local runs; CI never uses it).
    #[arg(long)]
    pub no_lint: bool,
}

/// Runs every step, stopping at the first failure, and prints how long each took.
pub fn run(opts: &Options) -> Result<()> {
    let started = Instant::now();
    if is_root() {
        packages::ensure(packages::TEST_TOOLS)?;
    }
    if !opts.no_lint {
        step("formatting", cargo(&["fmt", "--all", "--check"]))?;
        step("formatting (fuzz targets)", cargo(&FUZZ_FMT))?;
        step("clippy (user space)", cargo(&clippy_user_space()))?;
    }
    let ebpf = Instant::now();
    build_ebpf::run(&build_ebpf::Options { release: true })?;
    eprintln!("==> eBPF build: {:.0}s", ebpf.elapsed().as_secs_f32());
    if !opts.no_lint {
        step("clippy (kernel programs)", nightly_clippy())?;
    }
    step(
        "build binaries",
        cargo(&["build", "--workspace", "--exclude", "mesh-ebpf", "--bins"]),
    )?;
    step(
        "unit tests",
        cargo(&[
            "test",
            "--workspace",
            "--exclude",
            "mesh-ebpf",
            "--lib",
            "--bins",
        ]),
    )?;
    step("integration and lab tests", cargo(&integration_tests()))?;
    // Last: a long build of its own, and a failure here should not hide the tests' results.
    let fuzzing = Instant::now();
    fuzz::run(&fuzz::Options {
        seconds: FUZZ_SECONDS,
        target: None,
    })?;
    eprintln!("==> fuzzing: {:.0}s", fuzzing.elapsed().as_secs_f32());
    eprintln!(
        "==> all checks passed in {:.0}s",
        started.elapsed().as_secs_f32()
    );
    Ok(())
}

fn clippy_user_space() -> Vec<&'static str> {
    let mut args = vec![
        "clippy",
        "--workspace",
        "--exclude",
        "mesh-ebpf",
        "--all-targets",
    ];
    args.extend(["--", "-D", "warnings"]);
    args
}

fn integration_tests() -> Vec<&'static str> {
    // `--test '*'`: the integration test files only; the unit tests ran in the step before.
    // Lab tests build several namespaces each: two at a time fits a 2-core machine.
    let mut args = vec![
        "test",
        "--workspace",
        "--exclude",
        "mesh-ebpf",
        "--test",
        "*",
        "--no-fail-fast",
    ];
    args.extend(["--", "--test-threads=2"]);
    args
}

fn nightly_clippy() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(workspace_root())
        .args([
            &format!("+{NIGHTLY}"),
            "clippy",
            "-p",
            "mesh-ebpf",
            "--target",
            BPF_TARGET,
        ])
        .args(["-Z", "build-std=core", "--", "-D", "warnings"])
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER");
    cmd
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(workspace_root()).args(args);
    cmd
}

fn step(name: &str, mut cmd: Command) -> Result<()> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("could not start {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    eprintln!("==> {name}: ok ({:.0}s)", started.elapsed().as_secs_f32());
    Ok(())
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}
