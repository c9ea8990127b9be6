//! Memory an idle proxied connection holds in the agent, counted by the allocator (this
//! binary's global allocator, bytes live on the test's one runtime thread), never timed: the
//! same connections direct and through the agent (plain text, and through both agents in the
//! mTLS tunnel), each having passed a request and its answer, then idle; the difference per
//! connection is the agents'. Issue 20's goal: at most 8 KiB per agent.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::allocations::{self, Held};
use crate::harness::certificates::{TestCa, TestCertificates};
use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::streaming_echo_server;

/// Connections held open at once.
const CONNECTIONS: usize = 200;
/// Issue 20's goal for an idle proxied connection in the agent.
const GOAL_BYTES: i64 = 8 * 1024;
const CLUSTER_IP: &str = "10.96.0.10:80";
const AMBIENT: &str = "istio.io/dataplane-mode: ambient";

/// Where the connections go: straight to the app, or captured by a client pod's listener.
enum Path<'a> {
    Direct(SocketAddr),
    Captured(&'a Client, String),
}

impl Path<'_> {
    async fn open(&self) -> TcpStream {
        match self {
            Path::Direct(addr) => TcpStream::connect(addr).await.unwrap(),
            Path::Captured(client, dst) => client.connect(dst).await,
        }
    }
}

/// One request and its answer, then the connection is left idle.
async fn ping(stream: &mut TcpStream) {
    stream.write_all(b"ping").await.unwrap();
    let mut answer = [0; 4];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"ping");
}

/// Lets every task on this thread run until it waits (the copies back to reading).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Bytes live per connection with [`CONNECTIONS`] idle ones open over `path`, after a few
/// opened and closed first (so lazily built state is not counted), and allocations per
/// connection made while opening them.
async fn held_per_connection(path: &Path<'_>) -> (i64, u64) {
    for _ in 0..4 {
        let mut warm = path.open().await;
        ping(&mut warm).await;
    }
    settle().await;
    let mut open = Vec::with_capacity(CONNECTIONS);
    let before: Held = allocations::here();
    for _ in 0..CONNECTIONS {
        let mut stream = path.open().await;
        ping(&mut stream).await;
        open.push(stream);
    }
    settle().await;
    let after = allocations::here();
    println!(
        "blocks live since (size class, count): {:?}",
        after.blocks_since(&before)
    );
    let per = |n: i64| n / CONNECTIONS as i64;
    let allocations = (after.allocations - before.allocations) / CONNECTIONS as u64;
    (per(after.live_bytes - before.live_bytes), allocations)
}

/// The agents' share per connection: through `meshed`, less the same over `direct`.
async fn agents_share(direct: &Path<'_>, meshed: &Path<'_>) -> (i64, u64) {
    let (direct_bytes, direct_allocations) = held_per_connection(direct).await;
    let (meshed_bytes, meshed_allocations) = held_per_connection(meshed).await;
    let share = (
        meshed_bytes - direct_bytes,
        meshed_allocations - direct_allocations,
    );
    println!(
        "per idle connection: {} B live, {} allocations to open",
        share.0, share.1
    );
    share
}

#[tokio::test]
async fn an_idle_plain_text_connection_holds_at_most_8_kib_in_the_agent() {
    let app = streaming_echo_server("127.0.0.117:0".parse().unwrap()).await;
    let yaml = service("web", "10.96.0.10", "tcp-echo", app.port())
        + &pod("web-0", "app: web", "127.0.0.117")
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    let direct = Path::Direct(app);
    let meshed = Path::Captured(&client, CLUSTER_IP.into());
    let (bytes, _) = agents_share(&direct, &meshed).await;
    assert!(bytes <= GOAL_BYTES, "{bytes} B per idle connection");
}

/// Both agents together, through the mTLS tunnel: 80.8 KiB before the pooled copy and the
/// boxed paths, 14.8 KiB after (the two agents are one thread here, so only their sum is
/// counted: 8 KiB each on average); this bound keeps what was won with a margin.
const TUNNELLED_BOTH_AGENTS_BYTES: i64 = 18 * 1024;

#[tokio::test]
async fn an_idle_tunnelled_connection_holds_under_18_kib_in_both_agents() {
    let ca = TestCa::new();
    let yaml = pod("sleep-0", &format!("app: sleep, {AMBIENT}"), "127.0.0.1")
        + &pod("web-0", &format!("app: web, {AMBIENT}"), "127.0.0.118");
    let source = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let destination = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    destination.tunnel_inbound("web-0", "127.0.0.118").await;
    let app = streaming_echo_server("127.0.0.118:0".parse().unwrap()).await;
    let client = source.sleep().await;
    let direct = Path::Direct(app);
    let meshed = Path::Captured(&client, app.to_string());
    let (bytes, _) = agents_share(&direct, &meshed).await;
    assert!(
        bytes <= TUNNELLED_BOTH_AGENTS_BYTES,
        "{bytes} B per idle connection in both agents"
    );
}
