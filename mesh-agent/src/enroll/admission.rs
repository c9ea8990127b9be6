//! What a netns must be before a pod is enrolled with it: not the agent's own (capturing the
//! node's own connections), and holding one of the pod's IPs (a request cannot point the agent
//! at somebody else's namespace). Also the pod's gateways, read from inside its netns.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::net::Netns;

/// A netns by device and inode, as `stat` on its path shows it.
pub type NetnsId = (u64, u64);

/// The identity of the netns at `path`.
pub fn netns_id(path: &Path) -> io::Result<NetnsId> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// The agent's own netns.
pub fn own_netns_id() -> io::Result<NetnsId> {
    netns_id(Path::new("/proc/self/ns/net"))
}

/// Which netns checks apply.
#[derive(Clone, Copy, Debug, Default)]
pub struct Admission {
    /// Accept the agent's own netns: only for in-process tests whose "pods" live in the test's
    /// own netns. Never set by the agent.
    pub allow_own_netns: bool,
}

impl Admission {
    /// Opens `path` after checking that it is not the agent's own netns (unless allowed) and
    /// that it holds one of `ips`.
    pub fn open(&self, path: &Path, ips: &[IpAddr]) -> Result<Netns, String> {
        let shown = path.display();
        let id = netns_id(path).map_err(|e| format!("netns {shown}: {e}"))?;
        let own = own_netns_id().map_err(|e| format!("the agent's own netns: {e}"))?;
        if id == own && !self.allow_own_netns {
            return Err(format!(
                "netns {shown} is the agent's own network namespace"
            ));
        }
        let netns = Netns::open(path).map_err(|e| format!("netns {shown}: {e}"))?;
        let held = addresses(&netns).map_err(|e| format!("netns {shown}: addresses: {e}"))?;
        if !ips.iter().any(|ip| held.contains(ip)) {
            let wanted: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
            return Err(format!(
                "netns {shown} holds none of the pod's IPs ({})",
                wanted.join(", ")
            ));
        }
        Ok(netns)
    }
}

/// Every address on the interfaces of `netns`.
pub fn addresses(netns: &Netns) -> io::Result<Vec<IpAddr>> {
    let list = netns
        .enter(nix::ifaddrs::getifaddrs)?
        .map_err(io::Error::from)?;
    Ok(list
        .filter_map(|ifaddr| {
            let address = ifaddr.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        })
        .collect())
}

/// The IPv4 default gateway of `netns` (the node's address on the pod network: kubelet probes
/// come from it), read from its routing table.
pub fn gateways(netns: &Netns) -> Vec<IpAddr> {
    let table = netns.enter(|| std::fs::read_to_string("/proc/thread-self/net/route"));
    match table {
        Ok(Ok(table)) => default_gateways(&table),
        _ => Vec::new(),
    }
}

/// The gateways of default routes in `/proc/net/route` text (hex, host byte order).
fn default_gateways(table: &str) -> Vec<IpAddr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (destination, gateway) = (*fields.get(1)?, *fields.get(2)?);
            let gateway = u32::from_str_radix(gateway, 16).ok()?;
            (destination == "00000000" && gateway != 0)
                .then(|| IpAddr::V4(Ipv4Addr::from(u32::from_be(gateway))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_route_gives_the_gateway() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
            eth0\t00000000\t0101F40A\t0003\t0\t0\t0\t00000000\n\
            eth0\t0001F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(
            default_gateways(table),
            ["10.244.1.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn the_own_netns_is_refused_with_its_path() {
        let path = Path::new("/proc/self/ns/net");
        let error = Admission::default().open(path, &[]).err().unwrap();
        assert_eq!(
            error,
            "netns /proc/self/ns/net is the agent's own network namespace"
        );
    }

    #[test]
    fn a_netns_without_the_pod_ip_is_refused() {
        let admission = Admission {
            allow_own_netns: true,
        };
        let path = Path::new("/proc/self/ns/net");
        let ips = ["192.0.2.77".parse().unwrap()];
        let error = admission.open(path, &ips).err().unwrap();
        assert_eq!(
            error,
            "netns /proc/self/ns/net holds none of the pod's IPs (192.0.2.77)"
        );
        let loopback = ["127.0.0.1".parse().unwrap()];
        assert!(admission.open(path, &loopback).is_ok());
    }
}
