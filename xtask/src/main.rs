//! `cargo xtask`: the task runner. The lab, the demo, the benchmarks and the eBPF build are the
//! `mesh-lab` library; this binary parses the command line and dispatches.

mod crds;
mod test_suite;

use anyhow::Result;
use clap::{Parser, Subcommand};
use mesh_lab::{bench, build_ebpf, demo, fuzz, lab};

#[derive(Parser)]
#[command(about = "Developer and demo tooling for the mesh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks: the mesh against direct traffic and a reference proxy (figures printed).
    Bench(bench::BenchArgs),
    /// Build the kernel programs (nightly + bpf-linker, installed if missing).
    BuildEbpf(build_ebpf::Options),
    /// Write deploy/crds.yaml: the Istio CRDs, for clusters without Istio.
    GenCrds(crds::GenCrdsArgs),
    /// Show the mesh at work: a two-node lab, a frontend and two backend versions under load.
    Demo(demo::DemoArgs),
    /// Fuzz the agent's input parsers (cargo-fuzz, nightly): configuration files, protocol
    /// detection, enrollment requests, request routing.
    Fuzz(fuzz::Options),
    /// Run the lab: a small cluster of network namespaces and cgroups on this machine.
    Lab(lab::LabArgs),
    /// Run every check CI runs: fmt, clippy, eBPF build, unit, integration and lab tests.
    Test(test_suite::Options),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(args),
        Command::BuildEbpf(opts) => build_ebpf::run(&opts).map(|_| ()),
        Command::Demo(args) => demo::run(&args),
        Command::Fuzz(opts) => fuzz::run(&opts).map(|_| ()),
        Command::GenCrds(args) => crds::run(&args),
        Command::Lab(args) => lab::run(args),
        Command::Test(opts) => test_suite::run(&opts),
    }
}
