//! L4 splicing, the connection side (`--l4-splice`): a plain-text L4 connection's two sockets
//! are joined in the kernel once the upstream is chosen (the first bytes detection peeked are
//! still queued, and go first). The agent then only watches each side for its end of stream,
//! passes it on as a half-close once the kernel has sent every byte before it, and adds the
//! bytes the kernel moved to the connection's telemetry when it closes.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::connection_log::ConnectionLog;
use super::forward::{forward_within, within, Activity, Carried, ConnectionLifetime};
use super::metrics::ConnectionMetrics;
use crate::capture::{SplicedPair, Splicer};

/// How often the kernel's byte counts are read to keep the idle timeout honest.
const ACTIVITY_POLL: Duration = Duration::from_secs(1);
/// How often a half-close waits to see the kernel's queued bytes sent first.
const FLUSH_POLL: Duration = Duration::from_millis(1);

/// Carries `client` ⇄ `upstream`: joined in the kernel when `splicer` is there and the client
/// is a socket, else copied by [`forward_within`].
pub(super) async fn forward_sockets(
    splicer: Option<&Arc<dyn Splicer>>,
    client: impl Carried,
    upstream: TcpStream,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
    lifetime: ConnectionLifetime,
) {
    // Each way boxed: an open connection holds the state of the one it takes (copy or splice).
    let (splicer, client) = match (splicer, client.into_socket()) {
        (Some(splicer), Ok(client)) => (splicer, client),
        (_, Ok(client)) => {
            return Box::pin(forward_within(client, upstream, metrics, log, lifetime)).await
        }
        (_, Err(client)) => {
            return Box::pin(forward_within(client, upstream, metrics, log, lifetime)).await
        }
    };
    client.prepare();
    upstream.prepare();
    match splicer.join(client.as_fd(), upstream.as_fd()) {
        Ok(pair) => {
            let splicer = splicer.as_ref();
            // Also when this future is dropped (a configuration swap's denial cuts it).
            let _parting = Parting { splicer, pair };
            let sockets = Joined {
                splicer,
                pair,
                client,
                upstream,
            };
            Box::pin(sockets.carry(metrics, log, lifetime)).await
        }
        Err(error) => {
            tracing::debug!(%error, "not spliced; copying");
            Box::pin(forward_within(client, upstream, metrics, log, lifetime)).await
        }
    }
}

/// Which socket received the bytes.
#[derive(Clone, Copy)]
enum Side {
    Client,
    Upstream,
}

/// Removes a joined pair's map entries when dropped, however its connection ended.
struct Parting<'a> {
    splicer: &'a dyn Splicer,
    pair: SplicedPair,
}

impl Drop for Parting<'_> {
    fn drop(&mut self) {
        self.splicer.part(self.pair);
    }
}

/// A connection whose sockets the kernel joined.
struct Joined<'a> {
    splicer: &'a dyn Splicer,
    pair: SplicedPair,
    client: TcpStream,
    upstream: TcpStream,
}

impl Joined<'_> {
    /// Until both sides are done or `lifetime` cuts it; then counted, logged and closed.
    async fn carry(
        self,
        metrics: ConnectionMetrics,
        log: Option<ConnectionLog>,
        lifetime: ConnectionLifetime,
    ) {
        let activity = Activity::new();
        let done = within(self.both_ways(&activity), &activity, lifetime).await;
        let (from_client, to_client) = self.splicer.part(self.pair);
        let (relayed_up, relayed_down) = match &done {
            Ok(Ok(relayed)) => *relayed,
            _ => (0, 0),
        };
        let (from_client, to_client) = (from_client + relayed_up, to_client + relayed_down);
        metrics.received.inc_by(from_client);
        metrics.sent.inc_by(to_client);
        let failed = matches!(done, Ok(Err(_)));
        if let Some(log) = log {
            log.finish(from_client, to_client, failed);
        }
        match done {
            Ok(Ok(_)) => tracing::debug!(from_client, to_client, "spliced connection closed"),
            Ok(Err(error)) => {
                tracing::debug!(%error, "spliced connection failed; resetting both sides");
                self.client.abort();
                self.upstream.abort();
            }
            Err(cut) => tracing::debug!(?cut, "connection lifetime reached; closing both sides"),
        }
    }

    /// Both directions to their end; the bytes the agent relayed itself (the verdict passed
    /// them up: the peer had gone), each way.
    async fn both_ways(&self, activity: &Activity) -> io::Result<(u64, u64)> {
        let up = self.one_way(Side::Client, &self.client, &self.upstream);
        let down = self.one_way(Side::Upstream, &self.upstream, &self.client);
        let ticking = async {
            let mut last = (0, 0);
            loop {
                tokio::time::sleep(ACTIVITY_POLL).await;
                let now = self.splicer.moved(self.pair);
                if now != last {
                    activity.touch();
                    last = now;
                }
            }
        };
        tokio::select! {
            done = async { tokio::try_join!(up, down) } => done,
            _ = ticking => unreachable!("the activity poll never ends"),
        }
    }

    /// Waits for `from`'s end of stream, then half-closes `to` once the kernel has written
    /// into it every byte `from` received. Bytes read here are ones the verdict passed up.
    async fn one_way(&self, side: Side, from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
        let mut relayed = 0;
        let mut buf = vec![0; 16 * 1024];
        loop {
            from.readable().await?;
            match from.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    write_all(to, &buf[..n]).await?;
                    relayed += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        loop {
            let moved = self.splicer.moved(self.pair);
            let moved = match side {
                Side::Client => moved.0,
                Side::Upstream => moved.1,
            };
            if written(to)? >= moved + relayed {
                break;
            }
            // The kernel's send into `to` failed: those bytes will never go.
            if let Some(error) = to.take_error()? {
                return Err(error);
            }
            tokio::time::sleep(FLUSH_POLL).await;
        }
        socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write)?;
        Ok(relayed)
    }
}

/// Writes all of `bytes` to `to` (shared: the other direction only reads it).
async fn write_all(to: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        to.writable().await?;
        match to.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The bytes written into `socket` so far (sent once, or queued): `TCP_INFO`'s
/// `tcpi_bytes_sent - tcpi_bytes_retrans + tcpi_notsent_bytes`.
fn written(socket: &TcpStream) -> io::Result<u64> {
    // struct tcp_info (include/uapi/linux/tcp.h): offsets of the three fields.
    const NOTSENT: usize = 144;
    const BYTES_SENT: usize = 200;
    const BYTES_RETRANS: usize = 208;
    let mut info = [0u8; 232];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: a valid fd and a buffer of the advertised length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < BYTES_RETRANS + 8 {
        return Err(io::Error::other(
            "TCP_INFO without tcpi_bytes_sent (kernel < 4.19)",
        ));
    }
    let u64_at = |at: usize| u64::from_ne_bytes(info[at..at + 8].try_into().unwrap_or_default());
    let notsent = u32::from_ne_bytes(info[NOTSENT..NOTSENT + 4].try_into().unwrap_or_default());
    Ok(u64_at(BYTES_SENT) - u64_at(BYTES_RETRANS) + u64::from(notsent))
}
