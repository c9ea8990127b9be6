//! The TCP load: every connection sends `--size` bytes, waits for the whole answer, repeats;
//! and what every client shares (resolving the server, running the connection tasks).

use crate::pace::{Pace, Window};
use crate::summary::{RunShape, Summary, Tally};
use crate::LoadArgs;
use anyhow::{bail, Context, Result};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

/// How long one request (connect included) may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failure, so a refusing server is not hammered in a hot loop.
pub const BACKOFF: Duration = Duration::from_millis(10);

/// What every TCP connection task needs.
#[derive(Clone, Copy)]
struct Shape {
    addr: SocketAddr,
    size: usize,
    new_connection_per_request: bool,
}

/// Runs the TCP load and sums it up. Returns after `warmup + duration` (plus one timeout).
pub async fn run(args: LoadArgs) -> Result<Summary> {
    let shape = Shape {
        addr: resolve(&args).await?,
        size: args.size,
        new_connection_per_request: args.new_connection_per_request,
    };
    run_connections(&args, |window, pace| drive(shape, window, pace)).await
}

/// The server's address, once the options are checked.
pub async fn resolve(args: &LoadArgs) -> Result<SocketAddr> {
    let target = args.addr.as_deref().context("--addr is required")?;
    if args.connections == 0 || args.size == 0 {
        bail!("--connections and --size must be at least 1");
    }
    if args.rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        bail!("--rate must be a positive number of requests per second");
    }
    tokio::net::lookup_host(target)
        .await
        .with_context(|| format!("resolving {target}"))?
        .next()
        .with_context(|| format!("{target} resolves to no address"))
}

/// Starts `--connections` tasks made by `task` over one window and sums their tallies.
pub async fn run_connections<F, T>(args: &LoadArgs, task: F) -> Result<Summary>
where
    F: Fn(Window, Pace) -> T,
    T: Future<Output = Tally> + Send + 'static,
{
    let window = Window::after(args.warmup, args.duration);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(task(window, Pace::new(args.rate, args.connections, i))))
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        total.merge(&task.await?);
    }
    let shape = RunShape {
        connections: args.connections,
        size: args.size,
        new_connection_per_request: args.new_connection_per_request,
        protocol: args.protocol.name(),
        rate: args.rate,
    };
    Ok(Summary::new(&total, args.duration, shape))
}

/// One connection's loop until the window closes.
async fn drive(shape: Shape, window: Window, mut pace: Pace) -> Tally {
    let mut tally = Tally::new();
    let request = vec![b'm'; shape.size];
    let mut response = vec![0u8; shape.size];
    let mut stream = None;
    while window.open() {
        pace.wait().await;
        let began = Instant::now();
        let exchange = exchange(&mut stream, shape, &request, &mut response);
        match timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(())) => {
                let done = Instant::now();
                if window.counts(began, done) {
                    tally.record(done - began);
                }
            }
            Ok(Err(error)) => {
                tally.fail(format_args!("{error}"));
                stream = None;
                sleep(BACKOFF).await;
            }
            Err(_) => {
                tally.fail(format_args!("no answer within {REQUEST_TIMEOUT:?}"));
                stream = None;
                sleep(BACKOFF).await;
            }
        }
    }
    tally
}

/// One request/response, connecting first when there is no open connection.
async fn exchange(
    stream: &mut Option<TcpStream>,
    shape: Shape,
    request: &[u8],
    response: &mut [u8],
) -> std::io::Result<()> {
    let conn = match stream {
        Some(conn) => conn,
        None => {
            let conn = TcpStream::connect(shape.addr).await?;
            conn.set_nodelay(true)?;
            stream.insert(conn)
        }
    };
    conn.write_all(request).await?;
    conn.read_exact(response).await?;
    if shape.new_connection_per_request {
        *stream = None;
    }
    Ok(())
}
