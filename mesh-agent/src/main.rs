//! `mesh-agent`: the node agent's command line.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "mesh-agent",
    about = "Node agent of the sidecar-less eBPF service mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the agent's version.
    Version,
    /// Run the agent on this node. Not built yet: capture and proxying arrive with issue #3.
    Run {
        /// Read mesh resources from this directory (hot reload).
        #[arg(long)]
        config_dir: Option<PathBuf>,
    },
    /// Validate mesh resources like `istioctl analyze`. Not built yet: arrives with issue #4.
    Check {
        /// Files or directories to validate.
        paths: Vec<PathBuf>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Version => {
            println!("mesh-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Run { .. } => bail!("`mesh-agent run` is not built yet (issue #3)"),
        Command::Check { .. } => bail!("`mesh-agent check` is not built yet (issue #4)"),
    }
}
