//! `cargo xtask bench config` (configuration at scale): compiles a large generated configuration — 10,000
//! Services, 50,000 endpoints, 2,000 VirtualServices, 2,000 DestinationRules — and re-applies
//! one endpoint change. The measured work runs in its own process (the `config_bench` example
//! of mesh-agent, release build) so that its peak memory is its own; figures are printed.

use anyhow::{bail, Context, Result};
use std::process::Command;

use crate::build_ebpf::workspace_root;

/// `cargo run --release -p mesh-agent --example config_bench`, its output passed through.
pub fn run() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("==> cargo run --release -p mesh-agent --example config_bench");
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["run", "--release", "--quiet", "-p", "mesh-agent"])
        .args(["--example", "config_bench"])
        .status()
        .context("starting cargo")?;
    if !status.success() {
        bail!("the configuration benchmark failed ({status})");
    }
    Ok(())
}
