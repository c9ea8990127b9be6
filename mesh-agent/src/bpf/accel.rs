//! Same-node acceleration, user side: the agent puts its end of a captured loopback
//! connection into `ACCEL_SOCKS`, next to the app's end `sock_ops` put there, and `sk_msg`
//! then moves data between the two directly.
//!
//! Bytes the app sends before the agent's socket is in the map take the normal path, and
//! `sk_msg` then keeps that end of the connection on it (`ACCEL_PASSED`): the agent reads
//! redirected bytes before queued ones, so mixing the two would reorder them (a request line
//! written in two parts while detection peeks at it).

use super::loader::{BpfError, MeshBpf};
use mesh_common::{AccelKey, OUTBOUND_CAPTURE_PORT};
use std::os::fd::{AsRawFd, BorrowedFd};

impl MeshBpf {
    /// Whether the programs were loaded with acceleration on.
    pub fn accelerates(&self) -> bool {
        self.accel.is_some()
    }

    /// Adds the agent's `accepted` socket (from the outbound listener of the netns with
    /// `netns_cookie`, peer port `peer_port`) to `ACCEL_SOCKS`. Does nothing when acceleration
    /// is off. Call it before reading from the socket.
    pub fn accelerate_accepted(
        &self,
        accepted: BorrowedFd<'_>,
        netns_cookie: u64,
        peer_port: u16,
    ) -> Result<(), BpfError> {
        let Some(socks) = &self.accel else {
            return Ok(());
        };
        let key = AccelKey {
            netns_cookie,
            local_port: u32::from(OUTBOUND_CAPTURE_PORT),
            remote_port: u32::from(peer_port),
        };
        let mut socks = socks.lock().unwrap_or_else(|e| e.into_inner());
        Ok(socks
            .insert(key, accepted.as_raw_fd(), 0)
            .map_err(Box::new)?)
    }
}
