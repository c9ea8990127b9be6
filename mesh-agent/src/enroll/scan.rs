//! Finding the netns of a pod that started before the agent knew it (no CNI ADD reached this
//! agent, no state record): every network namespace on the node, named ones under
//! `/var/run/netns` and those of every process (`/proc/*/ns/net`), each visited once (by inode),
//! the agent's own skipped. A pod's netns is the one a process of the pod lives in — its cgroup
//! path names the pod UID, as kubelet names pod cgroups (`pod<uid>`, `_` for `-` under systemd):
//! Istio's CNI agent finds it that way — and which holds the pod's IP; failing that, the only
//! netns on the node holding the IP. Two holders and no UID to tell them apart: not guessed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::admission::{addresses, netns_id, own_netns_id, NetnsId};
use crate::net::Netns;

/// One network namespace of the node.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    addresses: Vec<IpAddr>,
    /// The `/proc/<pid>/cgroup` text of every process in it.
    cgroups: String,
}

/// The node's network namespaces, their addresses and the cgroups of their processes.
#[derive(Debug, Default)]
pub struct NodeNetns {
    found: Vec<Found>,
}

impl NodeNetns {
    /// Visits every namespace under `named` (`/var/run/netns`) and `proc` (`/proc`).
    pub fn scan(named: &Path, proc: &Path) -> Self {
        let own = own_netns_id().ok();
        let mut index: HashMap<NetnsId, usize> = HashMap::new();
        let mut scan = Self::default();
        for (path, cgroup_file) in candidates(named, proc) {
            let Ok(id) = netns_id(&path) else { continue };
            if Some(id) == own {
                continue;
            }
            let at = match index.get(&id) {
                Some(at) => *at,
                None => {
                    let Ok(netns) = Netns::open(&path) else {
                        continue;
                    };
                    let addresses = addresses(&netns).unwrap_or_default();
                    scan.found.push(Found {
                        path,
                        addresses,
                        cgroups: String::new(),
                    });
                    index.insert(id, scan.found.len() - 1);
                    scan.found.len() - 1
                }
            };
            if let Some(file) = cgroup_file {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                scan.found[at].cgroups.push_str(&text);
            }
        }
        scan
    }

    /// The node's namespaces, at the usual places.
    pub fn scan_node() -> Self {
        Self::scan(Path::new("/var/run/netns"), Path::new("/proc"))
    }

    /// The netns of the pod `uid` holding one of `ips`; see the module doc.
    pub fn find(&self, uid: &str, ips: &[IpAddr]) -> Result<&Path, String> {
        let holders: Vec<&Found> = self
            .found
            .iter()
            .filter(|f| ips.iter().any(|ip| f.addresses.contains(ip)))
            .collect();
        let in_pod_cgroup = |f: &&&Found| {
            !uid.is_empty()
                && (f.cgroups.contains(uid) || f.cgroups.contains(&uid.replace('-', "_")))
        };
        if let Some(found) = holders.iter().find(in_pod_cgroup) {
            return Ok(&found.path);
        }
        match holders.as_slice() {
            [] => Err("no network namespace on the node holds the pod's IP".into()),
            [only] => Ok(&only.path),
            several => {
                let paths: Vec<String> = several
                    .iter()
                    .map(|f| f.path.display().to_string())
                    .collect();
                Err(format!(
                    "{} network namespaces hold the pod's IP ({}) and no process in them is in a \
                     cgroup of pod uid {uid}",
                    several.len(),
                    paths.join(", ")
                ))
            }
        }
    }
}

/// Named namespaces first (their paths outlive any process), then every process's, with its
/// cgroup file.
fn candidates(named: &Path, proc: &Path) -> Vec<(PathBuf, Option<PathBuf>)> {
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
    let mut list: Vec<(PathBuf, Option<PathBuf>)> =
        entries(named).into_iter().map(|p| (p, None)).collect();
    list.extend(processes.map(|p| (p.join("ns/net"), Some(p.join("cgroup")))));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(path: &str, ip: &str, cgroups: &str) -> Found {
        Found {
            path: path.into(),
            addresses: vec![ip.parse().unwrap()],
            cgroups: cgroups.into(),
        }
    }

    const UID: &str = "0a1b-22";

    #[test]
    fn the_netns_of_a_process_in_the_pods_cgroup_wins() {
        let scan = NodeNetns {
            found: vec![
                found("/var/run/netns/other", "10.244.1.5", ""),
                found(
                    "/proc/7/ns/net",
                    "10.244.1.5",
                    "0::/kubepods/besteffort/pod0a1b_22.slice/c1\n",
                ),
            ],
        };
        let ips = ["10.244.1.5".parse().unwrap()];
        assert_eq!(scan.find(UID, &ips).unwrap(), Path::new("/proc/7/ns/net"));
    }

    #[test]
    fn the_only_holder_is_taken_and_two_are_not_guessed_between() {
        let one = NodeNetns {
            found: vec![
                found("/var/run/netns/a", "10.244.1.5", ""),
                found("/var/run/netns/b", "10.244.1.6", ""),
            ],
        };
        let ips = ["10.244.1.5".parse().unwrap()];
        assert_eq!(one.find(UID, &ips).unwrap(), Path::new("/var/run/netns/a"));
        let two = NodeNetns {
            found: vec![
                found("/var/run/netns/a", "10.244.1.5", ""),
                found("/var/run/netns/b", "10.244.1.5", ""),
            ],
        };
        assert_eq!(
            two.find(UID, &ips).unwrap_err(),
            "2 network namespaces hold the pod's IP (/var/run/netns/a, /var/run/netns/b) and no \
             process in them is in a cgroup of pod uid 0a1b-22"
        );
        let none = ["10.244.9.9".parse().unwrap()];
        assert_eq!(
            one.find(UID, &none).unwrap_err(),
            "no network namespace on the node holds the pod's IP"
        );
    }
}
