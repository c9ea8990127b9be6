//! `OriginalDsts` over `ORIG_DSTS`: the agent's outbound listener asks, after accept(), where
//! the app meant to go.

use super::loader::MeshBpf;
use crate::capture::OriginalDsts;
use mesh_common::{OriginalDstKey, FAMILY_IPV4, FAMILY_IPV6};
use std::net::SocketAddr;

impl OriginalDsts for MeshBpf {
    fn take(&self, netns_cookie: u64, peer: SocketAddr) -> Option<SocketAddr> {
        // IPv4-mapped destinations were sent to 127.0.0.1: the IPv4 listener's peer is IPv4.
        let family = match peer {
            SocketAddr::V4(_) => FAMILY_IPV4,
            SocketAddr::V6(_) => FAMILY_IPV6,
        };
        let key = OriginalDstKey::new(netns_cookie, family, peer.port());
        let mut map = self.original_dsts.lock().unwrap_or_else(|e| e.into_inner());
        let dst = map.get(&key, 0).ok()?;
        // Already gone (LRU eviction) is fine: we have the value.
        let _ = map.remove(&key);
        Some(dst.to_socket_addr())
    }
}
