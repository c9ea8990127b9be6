//! `OriginalDsts` over `ORIG_DSTS`: the agent's outbound listener asks, after accept(), where
//! the app meant to go.

use super::loader::MeshBpf;
use crate::capture::OriginalDsts;
use mesh_common::OriginalDstKey;
use std::net::SocketAddr;

impl OriginalDsts for MeshBpf {
    fn take(&self, netns_cookie: u64, source_port: u16) -> Option<SocketAddr> {
        let key = OriginalDstKey::new(netns_cookie, source_port);
        let mut map = self.original_dsts.lock().unwrap_or_else(|e| e.into_inner());
        let dst = map.get(&key, 0).ok()?;
        // Already gone (LRU eviction) is fine: we have the value.
        let _ = map.remove(&key);
        Some(dst.to_socket_addr())
    }
}
