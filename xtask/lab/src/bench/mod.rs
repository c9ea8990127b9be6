//! `cargo xtask bench`: the mesh against direct traffic and a reference proxy, in one lab run.
//! Figures are printed and written to `target/bench/`, never asserted.

mod cases;
mod config;
mod haproxy;
mod hook_cost;
mod http;
mod http_cases;
mod http_limits;
mod http_limits_print;
mod http_load;
mod http_policies;
mod http_print;
mod http_report;
mod http_telemetry;
mod http_variants;
mod idle;
mod l4;
mod load;
mod nginx;
mod noisy;
mod proc_stats;
mod release;
mod report;
mod scale;
mod scale_report;
mod tls_report;
mod topology;
mod tunnels;

use anyhow::Result;

/// `cargo xtask bench` arguments.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    suite: Suite,
}

#[derive(clap::Subcommand)]
enum Suite {
    /// L4: direct pod→pod, through the agent, with sk_msg, and HAProxy in TCP mode.
    L4(l4::L4Args),
    /// HTTP: HTTP/1.1 and h2 direct, through the agents (routing,
    /// resilience, telemetry on/off), HAProxy and nginx in HTTP mode, and a metrics scrape.
    Http(http::HttpArgs),
    /// Configuration: compile 10,000 services and re-apply one endpoint change.
    Config,
    /// Connection scale: N long-lived connections at a fixed total rate, direct and through
    /// the agents (plaintext and mTLS), with the agents' memory per connection and after close.
    Scale(scale::ScaleArgs),
}

/// Runs one benchmark suite (from a release build: rebuilt and re-run first when needed).
pub fn run(args: BenchArgs) -> Result<()> {
    match args.suite {
        Suite::L4(args) => {
            release::ensure_release_build(args.debug_build)?;
            l4::run(&args)
        }
        Suite::Http(args) => {
            release::ensure_release_build(args.debug_build)?;
            http::run(&args)
        }
        Suite::Config => config::run(),
        Suite::Scale(args) => {
            release::ensure_release_build(args.debug_build)?;
            scale::run(&args)
        }
    }
}
