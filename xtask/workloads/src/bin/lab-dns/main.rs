//! `lab-dns`: the lab's cluster DNS — an authoritative UDP responder for the names of a zone
//! file the lab keeps (Services, pods, external hosts, nodes, names set at runtime), asked by
//! the pods (their resolv.conf) and the agents (`--dns-server`) alike.

mod answer;
mod zone;

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::UdpSocket;

/// The largest DNS message over UDP with EDNS; plain DNS stays within 512 bytes.
const MAX_MESSAGE: usize = 4096;

#[derive(Parser)]
#[command(about = "The lab's cluster DNS: answers for the names of a hosts-format zone file")]
struct Args {
    /// The UDP address to answer on.
    #[arg(long)]
    listen: SocketAddr,
    /// The zone: hosts-format lines (`ADDRESS NAME...`), read again when it changes.
    #[arg(long)]
    zone: PathBuf,
    /// The TTL of every answer, in seconds (short: changed addresses are seen quickly).
    #[arg(long, default_value_t = 1)]
    ttl: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let socket = UdpSocket::bind(args.listen).await?;
    let mut zone = zone::Zone::new(args.zone);
    println!("lab-dns answering on {}", socket.local_addr()?);
    let mut buffer = vec![0; MAX_MESSAGE];
    loop {
        let (len, peer) = socket.recv_from(&mut buffer).await?;
        let Some(reply) = answer::answer(zone.names(), &buffer[..len], args.ttl) else {
            continue;
        };
        if let Err(error) = socket.send_to(&reply, peer).await {
            eprintln!("lab-dns: answering {peer}: {error}");
        }
    }
}
