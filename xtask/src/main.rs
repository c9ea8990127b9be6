//! `cargo xtask`: builds the eBPF programs, runs the lab, the demo, every test and the benchmarks.

mod build_ebpf;
mod demo;
mod lab;
mod packages;
mod test_suite;
mod toolchain;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Developer and demo tooling for the mesh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel programs (nightly + bpf-linker, installed if missing).
    BuildEbpf(build_ebpf::Options),
    /// Show the mesh at work: a two-node lab, a frontend and two backend versions under load.
    Demo(demo::DemoArgs),
    /// Run the lab: a small cluster of network namespaces and cgroups on this machine.
    Lab(lab::LabArgs),
    /// Run every check CI runs: fmt, clippy, eBPF build, unit, integration and lab tests.
    Test(test_suite::Options),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::BuildEbpf(opts) => build_ebpf::run(&opts).map(|_| ()),
        Command::Demo(args) => demo::run(&args),
        Command::Lab(args) => lab::run(args),
        Command::Test(opts) => test_suite::run(&opts),
    }
}
