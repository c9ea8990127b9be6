//! The closed loop: every connection sends a request, waits for the whole response, repeats.

use crate::summary::{Summary, Tally};
use crate::LoadArgs;
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

/// How long one request (connect included) may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failure, so a refusing server is not hammered in a hot loop.
const BACKOFF: Duration = Duration::from_millis(10);

/// When a connection task measures: from the end of the warmup to the end of the run.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// What every connection task needs.
#[derive(Clone, Copy)]
struct Shape {
    addr: SocketAddr,
    size: usize,
    new_connection_per_request: bool,
}

/// Runs the load and sums it up. Returns after `warmup + duration` (plus one request timeout).
pub async fn run(args: LoadArgs) -> Result<Summary> {
    let target = args.addr.context("--addr is required")?;
    let addr = tokio::net::lookup_host(&target)
        .await
        .with_context(|| format!("resolving {target}"))?
        .next()
        .with_context(|| format!("{target} resolves to no address"))?;
    if args.connections == 0 || args.size == 0 {
        bail!("--connections and --size must be at least 1");
    }
    let shape = Shape {
        addr,
        size: args.size,
        new_connection_per_request: args.new_connection_per_request,
    };
    let from = Instant::now() + args.warmup;
    let window = Window {
        from,
        until: from + args.duration,
    };
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(drive(shape, window)))
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        total.merge(&task.await?);
    }
    let run_shape = (args.connections, args.size, args.new_connection_per_request);
    Ok(Summary::new(&total, args.duration, run_shape))
}

/// One connection's loop until the window closes.
async fn drive(shape: Shape, window: Window) -> Tally {
    let mut tally = Tally::new();
    let request = vec![b'm'; shape.size];
    let mut response = vec![0u8; shape.size];
    let mut stream = None;
    while Instant::now() < window.until {
        let began = Instant::now();
        let exchange = exchange(&mut stream, shape, &request, &mut response);
        match timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(())) => {
                let done = Instant::now();
                if began >= window.from && done <= window.until {
                    tally.record(done - began);
                }
            }
            Ok(Err(_)) | Err(_) => {
                tally.errors += 1;
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
