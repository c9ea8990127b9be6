//! The `connect()` hook's authorization denials: `CONNECT_DENIED` ((source pod netns, address,
//! port) → 1), kept equal to the agent's [`ConnectDenials`]: only the pairs that changed are
//! written or removed.

use std::net::SocketAddr;

use aya::maps::{HashMap, MapData, MapError};
use mesh_common::{DeniedConnectKey, KernelIp};

use super::loader::MeshBpf;
use crate::capture::{ConnectDenials, DeniedConnects};

/// The map and what was written into it.
pub(crate) struct ConnectDeniedMap {
    map: HashMap<MapData, DeniedConnectKey, u8>,
    written: ConnectDenials,
}

impl ConnectDeniedMap {
    pub(super) fn new(map: HashMap<MapData, DeniedConnectKey, u8>) -> Self {
        Self {
            map,
            written: ConnectDenials::new(),
        }
    }

    fn apply(&mut self, denials: &ConnectDenials) -> Result<(), MapError> {
        for (cookie, destination) in denials.difference(&self.written) {
            self.map.insert(key(*cookie, destination), 1, 0)?;
        }
        for (cookie, destination) in self.written.difference(denials) {
            match self.map.remove(&key(*cookie, destination)) {
                Err(MapError::KeyNotFound) | Ok(()) => {}
                Err(error) => return Err(error),
            }
        }
        self.written = denials.clone();
        Ok(())
    }
}

/// The key of connects from the pod of `cookie` to `destination` (IPv4 as IPv4-mapped, as the
/// connect hooks see both families).
fn key(cookie: u64, destination: &SocketAddr) -> DeniedConnectKey {
    let ip = KernelIp::from_ip(destination.ip());
    DeniedConnectKey::new(cookie, ip, destination.port())
}

impl DeniedConnects for MeshBpf {
    fn apply(&self, denials: &ConnectDenials) -> anyhow::Result<()> {
        let mut map = self.connect_denied.lock().expect("not poisoned");
        Ok(map.apply(denials)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_key_as_the_hooks_see_them() {
        let v4 = key(7, &"10.96.0.10:80".parse().unwrap());
        assert_eq!(v4.netns_cookie, 7);
        assert!(v4.ip.is_ipv4());
        assert_eq!(v4.port, 80);
        let v6 = key(7, &"[fd00::5]:8080".parse().unwrap());
        assert!(!v6.ip.is_ipv4());
        assert_eq!(v6.port, 8080);
    }
}
