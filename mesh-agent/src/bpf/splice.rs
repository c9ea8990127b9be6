//! L4 splicing, user side (`--l4-splice`): the agent's two sockets of a plain-text L4
//! connection join `SPLICE_PEERS` (redirect targets) then `SPLICE_SOCKS` (whose `sk_skb` verdict
//! sends each socket's received bytes out of the other), with their peers and byte counts in
//! `SPLICED`. Bytes queued before the join are pushed through the verdict at once
//! (`SO_RCVLOWAT` wakes the socket's data-ready callback), in order, ahead of later ones.

use super::loader::{failed, program, take_map, BpfError, MeshBpf};
use super::socket::socket_cookie;
use crate::capture::{SplicedPair, Splicer};
use anyhow::Context as _;
use aya::maps::{HashMap, MapData, SockHash};
use aya::programs::SkSkb;
use aya::Ebpf;
use mesh_common::SpliceEntry;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The `sk_skb` stream verdict.
const SPLICE_PROGRAM: &str = "mesh_splice";

/// The maps of splicing, once the verdict is attached.
pub(super) struct SpliceMaps {
    socks: SockHash<MapData, u64>,
    peers: SockHash<MapData, u64>,
    spliced: HashMap<MapData, u64, SpliceEntry>,
}

/// Loads the verdict (the verifier runs here) and attaches it to `SPLICE_SOCKS`.
pub(super) fn attach(ebpf: &mut Ebpf) -> Result<SpliceMaps, BpfError> {
    let socks: SockHash<MapData, u64> = take_map(ebpf, "SPLICE_SOCKS")?;
    let verdict: &mut SkSkb = program(ebpf, SPLICE_PROGRAM)?;
    verdict.load().map_err(failed(SPLICE_PROGRAM))?;
    verdict.attach(socks.fd()).map_err(failed(SPLICE_PROGRAM))?;
    Ok(SpliceMaps {
        socks,
        peers: take_map(ebpf, "SPLICE_PEERS")?,
        spliced: take_map(ebpf, "SPLICED")?,
    })
}

impl MeshBpf {
    /// Whether the splicing verdict is attached.
    pub fn splices(&self) -> bool {
        self.splice.is_some()
    }

    /// How many sockets `SPLICED` holds (two per spliced connection still open).
    pub fn spliced_entries(&self) -> u64 {
        let Some(maps) = &self.splice else {
            return 0;
        };
        let maps = maps.lock().unwrap_or_else(|e| e.into_inner());
        maps.spliced.keys().count() as u64
    }

    fn splice_maps(&self) -> anyhow::Result<std::sync::MutexGuard<'_, SpliceMaps>> {
        let maps = self.splice.as_ref().context("splicing is off")?;
        Ok(maps.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Splicer for MeshBpf {
    fn join(
        &self,
        client: BorrowedFd<'_>,
        upstream: BorrowedFd<'_>,
    ) -> anyhow::Result<SplicedPair> {
        let pair = SplicedPair {
            client: socket_cookie(client)?,
            upstream: socket_cookie(upstream)?,
        };
        let mut maps = self.splice_maps()?;
        let joined = join_maps(&mut maps, pair, client, upstream);
        if joined.is_err() {
            leave_maps(&mut maps, pair);
        }
        drop(maps);
        joined?;
        for socket in [client, upstream] {
            if let Err(error) = wake_reader(socket) {
                // Rare; then the queued bytes go with the next ones that arrive.
                tracing::warn!(%error, "cannot push queued bytes through the splice verdict");
            }
        }
        Ok(pair)
    }

    fn moved(&self, pair: SplicedPair) -> (u64, u64) {
        let Ok(maps) = self.splice_maps() else {
            return (0, 0);
        };
        let bytes = |cookie| maps.spliced.get(&cookie, 0).map_or(0, |e| e.bytes);
        (bytes(pair.client), bytes(pair.upstream))
    }

    fn part(&self, pair: SplicedPair) -> (u64, u64) {
        let moved = self.moved(pair);
        if let Ok(mut maps) = self.splice_maps() {
            leave_maps(&mut maps, pair);
        }
        moved
    }
}

/// The entries, then both sockets as targets, then both under the verdict.
fn join_maps(
    maps: &mut SpliceMaps,
    pair: SplicedPair,
    client: BorrowedFd<'_>,
    upstream: BorrowedFd<'_>,
) -> anyhow::Result<()> {
    let entry = |peer_cookie| SpliceEntry {
        peer_cookie,
        bytes: 0,
    };
    maps.spliced.insert(pair.client, entry(pair.upstream), 0)?;
    maps.spliced.insert(pair.upstream, entry(pair.client), 0)?;
    maps.peers.insert(pair.client, client.as_raw_fd(), 0)?;
    maps.peers.insert(pair.upstream, upstream.as_raw_fd(), 0)?;
    maps.socks.insert(pair.client, client.as_raw_fd(), 0)?;
    maps.socks.insert(pair.upstream, upstream.as_raw_fd(), 0)?;
    Ok(())
}

/// Removes the pair from every map (what is not there is skipped).
fn leave_maps(maps: &mut SpliceMaps, pair: SplicedPair) {
    for cookie in [pair.client, pair.upstream] {
        let _ = maps.socks.remove(&cookie);
        let _ = maps.peers.remove(&cookie);
        let _ = maps.spliced.remove(&cookie);
    }
}

/// Sets `SO_RCVLOWAT` to 1 (the default): TCP then calls the socket's data-ready callback when
/// bytes are queued, which under the verdict sends them to the peer.
fn wake_reader(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: a valid fd and a pointer to a c_int of the advertised length.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
