//! Makes sure the tools the eBPF build and the fuzzing need are installed: nightly's `rust-src`,
//! `bpf-linker` and `cargo-fuzz`. Installs what is missing, saying what it does; stops with the
//! exact command to run by hand when it cannot.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// The nightly toolchain the kernel programs build with.
pub const NIGHTLY: &str = "nightly";
/// bpf-linker built against the nightly toolchain's own LLVM (newer ones need a system LLVM).
const BPF_LINKER_VERSION: &str = "0.10.4";

/// Installs nightly `rust-src` and `bpf-linker` when missing.
pub fn ensure_ebpf_toolchain() -> Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()
}

fn ensure_rust_src() -> Result<()> {
    let installed = output("rustup", &["component", "list", "--installed", "--toolchain", NIGHTLY])
        .with_context(|| format!("the `{NIGHTLY}` toolchain is not usable; install it with `rustup toolchain install {NIGHTLY}`"))?;
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        return Ok(());
    }
    let cmd = format!("rustup component add rust-src --toolchain {NIGHTLY}");
    eprintln!("==> installing rust-src for {NIGHTLY} (needed for -Z build-std; about a minute)");
    run_install(&cmd)
}

fn ensure_bpf_linker() -> Result<()> {
    if let Ok(version) = output("bpf-linker", &["--version"]) {
        if version.contains(&format!(
            " {}",
            BPF_LINKER_VERSION.rsplit_once('.').unwrap().0
        )) {
            return Ok(());
        }
        eprintln!(
            "==> found {}, want bpf-linker {BPF_LINKER_VERSION}",
            version.trim()
        );
    }
    let cmd = format!("cargo install bpf-linker@{BPF_LINKER_VERSION} --locked");
    eprintln!("==> installing bpf-linker {BPF_LINKER_VERSION} (compiles from source: 1–3 minutes)");
    run_install(&cmd)
}

/// Installs `cargo-fuzz` (the `cargo fuzz` subcommand) when missing.
pub fn ensure_cargo_fuzz() -> Result<()> {
    if output("cargo", &["fuzz", "--version"]).is_ok() {
        return Ok(());
    }
    eprintln!("==> installing cargo-fuzz (compiles from source: 1–3 minutes)");
    run_install("cargo install cargo-fuzz --locked")
}

fn run_install(cmd: &str) -> Result<()> {
    let mut parts = cmd.split_whitespace();
    let status = Command::new(parts.next().unwrap())
        .args(parts)
        .status()
        .with_context(|| format!("could not start `{cmd}`"))?;
    if !status.success() {
        bail!("`{cmd}` failed ({status}); run it by hand, then try again");
    }
    Ok(())
}

/// Runs a command and returns its stdout, failing when it cannot start or exits non-zero.
pub fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        bail!("`{program} {}` exited with {}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
