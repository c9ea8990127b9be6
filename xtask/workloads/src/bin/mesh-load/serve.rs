//! `mesh-load serve`: answers each `size`-byte request with `size` bytes, on every connection,
//! until the peer closes.

use serde_json::json;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `mesh-load serve` options.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The port to listen on (0: any free port; the chosen one is printed).
    #[arg(long)]
    port: u16,
    /// Request and response size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
}

/// Serves forever; prints `{"listening":"ADDR"}` once bound.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    println!(
        "{}",
        json!({"listening": listener.local_addr()?.to_string()})
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(answer(stream, args.size));
    }
}

/// Echoes `size`-byte requests until the peer closes or fails.
async fn answer(mut stream: TcpStream, size: usize) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; size];
    while stream.read_exact(&mut buf).await.is_ok() {
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}
