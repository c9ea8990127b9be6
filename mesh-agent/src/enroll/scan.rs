//! Finding the netns of a pod that started before the agent knew it (no CNI ADD reached this
//! agent, no state record): every network namespace on the node, named ones under
//! `/var/run/netns` and those of every process (`/proc/*/ns/net`), each visited once (by inode),
//! the agent's own skipped, indexed by the addresses it holds — as Istio's CNI agent does.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::admission::{addresses, netns_id, own_netns_id, NetnsId};
use crate::net::Netns;

/// The node's network namespaces by the addresses they hold.
#[derive(Debug, Default)]
pub struct NetnsByIp {
    paths: HashMap<IpAddr, PathBuf>,
}

impl NetnsByIp {
    /// Visits every namespace under `named` (`/var/run/netns`) and `proc` (`/proc`).
    pub fn scan(named: &Path, proc: &Path) -> Self {
        let mut seen: HashSet<NetnsId> = own_netns_id().into_iter().collect();
        let mut index = Self::default();
        for path in candidates(named, proc) {
            let Ok(id) = netns_id(&path) else { continue };
            if !seen.insert(id) {
                continue;
            }
            let Ok(netns) = Netns::open(&path) else {
                continue;
            };
            for ip in addresses(&netns).unwrap_or_default() {
                if !ip.is_loopback() {
                    index.paths.entry(ip).or_insert_with(|| path.clone());
                }
            }
        }
        index
    }

    /// The node's namespaces, at the usual places.
    pub fn scan_node() -> Self {
        Self::scan(Path::new("/var/run/netns"), Path::new("/proc"))
    }

    /// The path of a netns holding one of `ips`.
    pub fn find(&self, ips: &[IpAddr]) -> Option<&Path> {
        ips.iter()
            .find_map(|ip| self.paths.get(ip))
            .map(PathBuf::as_path)
    }
}

/// Named namespaces first (their paths outlive any process), then every process's.
fn candidates(named: &Path, proc: &Path) -> Vec<PathBuf> {
    let entries = |dir: &Path| -> Vec<PathBuf> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
        paths.sort();
        paths
    };
    let processes = entries(proc).into_iter().filter(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
    });
    let mut list = entries(named);
    list.extend(processes.map(|p| p.join("ns/net")));
    list
}
