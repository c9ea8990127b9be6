//! `sample-app`: the workload the lab, the demo and the tests run in pods — an HTTP echo service
//! that can call upstreams, fail and delay on purpose; a bounded load generator; a TCP echo pair;
//! a rate limit service (Envoy's RLS API).

mod answer;
mod budget;
mod fault;
mod load;
mod rls;
mod serve;
mod stats;
mod tcp;
mod tls;
mod upstream;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Sample workload for the mesh: HTTP service, load generator, TCP echo")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer HTTP requests with JSON saying who answered and what was received.
    Serve(serve::ServeArgs),
    /// Send a bounded load and print one JSON line per interval.
    Load(load::LoadArgs),
    /// Answer Envoy's rate limit service API (RLS v3 over gRPC), one limit per descriptor.
    Rls(rls::RlsArgs),
    /// Echo TCP connections.
    TcpEcho(tcp::EchoArgs),
    /// Open TCP connections to an echo server and check the echo; exit 1 if any failed.
    TcpClient(tcp::ClientArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await?,
        Command::Load(args) => load::run(args).await?,
        Command::Rls(args) => rls::run(args).await?,
        Command::TcpEcho(args) => tcp::echo(args).await?,
        Command::TcpClient(args) => {
            if !tcp::client(args).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
