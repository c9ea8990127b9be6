//! `tcp-echo` and `tcp-client`: a plain TCP workload for L4 mesh tests.

use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// How long one client connection may take (connect, send, read the echo).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many error messages are kept in the summary.
const ERRORS_KEPT: usize = 5;

/// `tcp-echo` options.
#[derive(clap::Args)]
pub struct EchoArgs {
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
}

/// `tcp-client` options.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The echo server, `HOST:PORT` (a name is resolved, e.g. through the pod's hosts file).
    #[arg(long)]
    addr: String,
    /// How many connections to open, one after the other.
    #[arg(long, default_value_t = 1)]
    connections: u32,
    /// What each connection sends (and expects back).
    #[arg(long, default_value = "hello mesh")]
    message: String,
    /// `SO_MARK` to set on each socket before connecting (needs `CAP_NET_ADMIN`): a pod
    /// trying to slip past capture with a mark.
    #[arg(long)]
    mark: Option<u32>,
}

/// Echoes every connection's bytes back until the peer closes; prints `{"listening":ADDR}`.
pub async fn echo(args: EchoArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    println!(
        "{}",
        json!({"listening": listener.local_addr()?.to_string()})
    );
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let (mut read, mut write) = stream.split();
            let _ = tokio::io::copy(&mut read, &mut write).await;
        });
    }
}

/// Opens the connections in turn, prints a JSON summary; `Ok(false)` when any failed.
pub async fn client(args: ClientArgs) -> anyhow::Result<bool> {
    let (mut ok, mut errors) = (0u32, Vec::new());
    for _ in 0..args.connections {
        let exchange = round_trip(&args.addr, args.message.as_bytes(), args.mark);
        match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(_) => errors.push("timed out".to_string()),
        }
    }
    let failed = errors.len();
    errors.truncate(ERRORS_KEPT);
    let summary = json!({
        "addr": args.addr, "connections": args.connections, "ok": ok, "failed": failed,
        "errors": errors,
    });
    println!("{summary}");
    Ok(failed == 0)
}

/// One connection: send the message, read the same number of bytes, compare.
async fn round_trip(addr: &str, message: &[u8], mark: Option<u32>) -> anyhow::Result<()> {
    let mut stream = connect(addr, mark).await?;
    stream.write_all(message).await?;
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).await?;
    anyhow::ensure!(echoed == message, "the echo differs from what was sent");
    stream.shutdown().await?;
    Ok(())
}

/// Connects to `addr` (resolved first), with `SO_MARK` `mark` when given.
async fn connect(addr: &str, mark: Option<u32>) -> anyhow::Result<TcpStream> {
    let target = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{addr} resolves to nothing"))?;
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(mark) = mark {
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::Mark, &mark)?;
    }
    Ok(socket.connect(target).await?)
}
