//! `cargo xtask fuzz [--seconds N] [TARGET]`: runs the agent's cargo-fuzz targets
//! (`mesh-agent/fuzz/`, nightly, its own workspace) for a bounded time each. They are built once,
//! then each runs from its committed seeds (`seeds/<target>`) and the corpus earlier runs grew
//! (`corpus/<target>`, git-ignored). A failure stops the run and names the input libFuzzer saved
//! under `artifacts/<target>/`.

use crate::build_ebpf::workspace_root;
use crate::toolchain::{ensure_cargo_fuzz, NIGHTLY};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The fuzz targets, in the order they run.
pub const TARGETS: [&str; 4] = ["config", "protocol", "enroll", "routing"];

/// Flags every `cargo fuzz` call takes, so that `run` reuses what `build` compiled: no
/// sanitizer (the agent is safe Rust; the fuzzing is for panics, overflows and hangs) and
/// debug assertions, which turn integer overflows into failures.
const BUILD_FLAGS: [&str; 3] = ["--sanitizer", "none", "--debug-assertions"];

/// A single input taking longer than this fails the run as a hang.
const INPUT_TIMEOUT_SECONDS: u32 = 10;

#[derive(clap::Args)]
pub struct Options {
    /// How long each target runs, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Run only this target; all of them by default.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub target: Option<String>,
}

/// What one target's run did.
#[derive(Debug)]
pub struct Fuzzed {
    pub target: &'static str,
    /// Inputs executed.
    pub executions: u64,
    pub seconds: f32,
}

/// The fuzz crate's directory.
pub fn fuzz_dir() -> PathBuf {
    workspace_root().join("mesh-agent").join("fuzz")
}

/// Builds the targets, then runs each (or `opts.target`) for `opts.seconds`.
pub fn run(opts: &Options) -> Result<Vec<Fuzzed>> {
    ensure_cargo_fuzz()?;
    let started = Instant::now();
    let built = cargo_fuzz(&["build"], &[]).status();
    let built = built.context("could not start cargo fuzz build")?;
    if !built.success() {
        bail!("building the fuzz targets failed ({built})");
    }
    eprintln!(
        "==> fuzz targets built ({:.0}s)",
        started.elapsed().as_secs_f32()
    );
    let chosen = TARGETS
        .into_iter()
        .filter(|t| opts.target.as_deref().is_none_or(|only| only == *t));
    chosen
        .map(|target| run_target(target, opts.seconds))
        .collect()
}

fn run_target(target: &'static str, seconds: u32) -> Result<Fuzzed> {
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds = dir.join("seeds").join(target);
    let log = dir.join("target").join(format!("fuzz-{target}.log"));
    let libfuzzer = [
        format!("-max_total_time={seconds}"),
        format!("-timeout={INPUT_TIMEOUT_SECONDS}"),
        "-print_final_stats=1".to_string(),
    ];
    let mut inputs = vec![target.to_string(), path_arg(&corpus)];
    inputs.extend(seeds.is_dir().then(|| path_arg(&seeds)));
    inputs.push("--".into());
    inputs.extend(libfuzzer);
    eprintln!("==> fuzzing {target} for {seconds}s");
    let started = Instant::now();
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let outcome = cargo_fuzz(&["run"], &args).stderr(log_file).status();
    let status = outcome.with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if !status.success() {
        eprintln!("{}", tail(&text, 60));
        bail!(
            "fuzz target {target} failed ({status}); the input is under {}, the log in {}",
            dir.join("artifacts").join(target).display(),
            log.display()
        );
    }
    let fuzzed = Fuzzed {
        target,
        executions: executions(&text).unwrap_or(0),
        seconds: started.elapsed().as_secs_f32(),
    };
    eprintln!(
        "==> {target}: {} inputs in {:.0}s",
        fuzzed.executions, fuzzed.seconds
    );
    Ok(fuzzed)
}

/// `cargo +nightly fuzz <subcommand> <flags> <args>` in the fuzz crate's directory.
fn cargo_fuzz(subcommand: &[&str], args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(fuzz_dir())
        .arg(format!("+{NIGHTLY}"))
        .arg("fuzz")
        .args(subcommand)
        .args(BUILD_FLAGS)
        .args(args)
        // The user-space toolchain's RUSTC would otherwise override the nightly one.
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER");
    cmd
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// libFuzzer's count of inputs run, from its final statistics.
fn executions(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_are_read_from_the_final_statistics() {
        let log = "#1024\tpulse  cov: 10\nDone 2048 runs in 1 second(s)\n\
                   stat::number_of_executed_units: 2048\nstat::peak_rss_mb: 40\n";
        assert_eq!(executions(log), Some(2048));
        assert_eq!(executions("INFO: Seed: 1\n"), None);
    }
}
