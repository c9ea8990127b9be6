//! Installs the Debian packages a command needs (as root, with apt-get) when their tools are
//! missing, saying what it installs.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// A tool the lab, the tests or the benchmarks run, and the Debian package that brings it.
pub struct Tool {
    pub command: &'static str,
    pub package: &'static str,
}

/// What the lab and the privileged tests run.
pub const TEST_TOOLS: &[Tool] = &[
    Tool {
        command: "ip",
        package: "iproute2",
    },
    Tool {
        command: "curl",
        package: "curl",
    },
    Tool {
        command: "python3",
        package: "python3",
    },
    Tool {
        command: "prometheus",
        package: "prometheus",
    },
];

/// Installs the packages of the tools that are not on PATH.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| !on_path(t.command))
        .map(|t| t.package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "==> installing Debian packages: {} (apt-get, a minute or two)",
        missing.join(" ")
    );
    apt_get(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt_get(&args)
}

fn apt_get(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("could not start apt-get")?;
    if !status.success() {
        bail!(
            "`apt-get {}` failed ({status}); run it by hand as root",
            args.join(" ")
        );
    }
    Ok(())
}

/// Whether `command` is an executable on PATH.
pub fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(command).is_file()))
        .unwrap_or(false)
}
