//! `cargo xtask`: builds the eBPF programs, runs the lab, the demo, every test and the benchmarks.

mod build_ebpf;
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
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::BuildEbpf(opts) => build_ebpf::run(&opts).map(|_| ()),
    }
}
