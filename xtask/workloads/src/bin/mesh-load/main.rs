//! `mesh-load`: a request/response load generator for the benchmarks — raw TCP, HTTP/1.1 or
//! h2c — and the servers it talks to (`mesh-load serve`, `mesh-load serve-http`).
//!
//! Each connection has one request in flight: TCP sends `--size` bytes and waits for `--size`
//! bytes back; HTTP sends a GET and reads the whole answer. Requests follow each other at once
//! (closed loop) or at a fixed total `--rate`; one JSON line sums the run up. The run is bounded
//! and stops by itself.

mod client;
mod http_client;
mod pace;
mod serve;
mod serve_http;
mod summary;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mesh-load",
    about = "TCP / HTTP request-response load generator",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Echo server: answers each `size`-byte request with `size` bytes.
    Serve(serve::ServeArgs),
    /// HTTP server (HTTP/1.1 and h2c on one port): answers every request with `size` bytes.
    ServeHttp(serve_http::ServeHttpArgs),
}

/// What the client speaks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `--size` bytes out, `--size` bytes back.
    Tcp,
    /// GET over HTTP/1.1 keep-alive.
    Http1,
    /// GET over HTTP/2 with prior knowledge (h2c), one stream in flight per connection.
    H2,
}

impl Protocol {
    /// The name the summary carries.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Http1 => "http1",
            Protocol::H2 => "h2",
        }
    }
}

/// The load run's options.
#[derive(clap::Args, Clone)]
pub struct LoadArgs {
    /// The server, `HOST:PORT`.
    #[arg(long, required = true)]
    addr: Option<String>,
    /// What to speak.
    #[arg(long, value_enum, default_value_t = Protocol::Tcp)]
    protocol: Protocol,
    /// HTTP: the authority (Host / `:authority`), e.g. a Service name; default: `--addr`.
    #[arg(long)]
    host: Option<String>,
    /// HTTP: the path requested (`mesh-load serve-http` answers `/status/NNN` with NNN).
    #[arg(long, default_value = "/")]
    path: String,
    /// A fixed total rate in requests/s, shared by the connections (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Concurrent connections, each one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// TCP: request and response size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// How long to measure (`10s`, `500ms`, `1m`; a bare number is seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Open a new connection for every request (measures connection setup).
    #[arg(long)]
    new_connection_per_request: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Some(Command::Serve(args)) => runtime.block_on(serve::serve(args)),
        Some(Command::ServeHttp(args)) => runtime.block_on(serve_http::serve(args)),
        None => {
            let summary = match cli.load.protocol {
                Protocol::Tcp => runtime.block_on(client::run(cli.load))?,
                Protocol::Http1 | Protocol::H2 => runtime.block_on(http_client::run(cli.load))?,
            };
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
    }
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number.parse()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        other => bail!("unknown duration unit {other:?} in {text:?} (use ms, s or m)"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("3h").is_err());
    }
}
