//! The sockets the agent opens inside a pod's netns: capture listeners, upstream connections
//! (never captured: the hooks know the agent by its cgroup), and resets.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::listeners::{take_inherited, Listener};
use super::Netns;

/// Backlog of the capture listeners.
const LISTEN_BACKLOG: i32 = 1024;

/// How the agent opens upstream connections.
#[derive(Clone, Debug)]
pub struct UpstreamSockets {
    /// How long a connect may take before the client is reset.
    pub connect_timeout: Duration,
}

impl UpstreamSockets {
    /// These settings with a destination's `tcp.connectTimeout`, when its `connectionPool`
    /// sets one.
    pub fn with_connect_timeout(&self, connect_timeout: Option<Duration>) -> Self {
        let mut sockets = self.clone();
        if let Some(timeout) = connect_timeout {
            sockets.connect_timeout = timeout;
        }
        sockets
    }
}

/// Creates a listener (`SO_REUSEADDR`, `IPV6_V6ONLY` for IPv6) on `addr` inside `netns`, or takes the listener of that
/// netns and address a predecessor handed over (`listeners.rs`). The listener is on record while
/// it lives, for a successor.
pub async fn listen(netns: &Netns, addr: SocketAddr) -> io::Result<Listener> {
    let inherited = match addr.port() {
        0 => None,
        _ => take_inherited((netns.cookie().await?, addr)),
    };
    let listener = match inherited {
        Some(listener) => listener,
        None => bind(netns, addr).await?,
    };
    Listener::record(TcpListener::from_std(listener)?)
}

async fn bind(netns: &Netns, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    netns
        .run(move || -> io::Result<std::net::TcpListener> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            if addr.is_ipv6() {
                // Each family has a listener of its own: [::] must not take IPv4 too.
                socket.set_only_v6(true)?;
            }
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            socket.listen(LISTEN_BACKLOG)?;
            Ok(socket.into())
        })
        .await?
}

/// Connects to `addr` from inside `netns` (the peer sees the pod's address), within the connect
/// timeout.
pub async fn connect(
    netns: &Netns,
    addr: SocketAddr,
    sockets: &UpstreamSockets,
) -> io::Result<TcpStream> {
    let socket = netns
        .run(move || -> io::Result<std::net::TcpStream> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_nonblocking(true)?;
            Ok(socket.into())
        })
        .await??;
    let socket = TcpSocket::from_std_stream(socket);
    let stream = tokio::time::timeout(sockets.connect_timeout, socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Closes `stream` with a TCP reset (`SO_LINGER` 0), so the peer fails at once instead of
/// reading a clean end of stream.
pub fn reset(stream: TcpStream) {
    // A zero linger never blocks on close, so tokio's warning about SO_LINGER does not apply.
    if let Err(error) = SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "cannot set SO_LINGER 0; closing normally");
    }
    drop(stream);
}
