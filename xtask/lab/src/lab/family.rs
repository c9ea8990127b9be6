//! The lab's IP families (`lab up --ip-family ipv4|ipv6|dual`) and its address plan per family.
//! IPv6 addresses are lab-only ULAs that exist only inside the lab's namespaces:
//! pods `fd00:10:244:N::K/64` (node N's gateway `::1`), ClusterIPs `fd00:10:96::/112`, the
//! fabric `fd00:10:250::/64` (node N at `::N`, external host M at `::1:M`) — the IPv6 twins of
//! 10.244.N.K/24, 10.96.0.0/16 and 10.250.0.N / 10.250.1.M.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which families a lab's pods, Services and nodes have addresses in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv4 only (the default).
    #[default]
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// Both, IPv4 first (`status.podIPs`, `spec.clusterIPs` and `ipFamilies` in that order).
    Dual,
}

/// Every pod range: pods route it through their node.
pub const POD_RANGE6: &str = "fd00:10:244::/48";
/// The fabric segment's IPv6 range.
pub const FABRIC_RANGE6: &str = "fd00:10:250::/64";
/// The first and the last IPv6 ClusterIP (host part within fd00:10:96::/112).
const CLUSTER_IP6_HOSTS: std::ops::RangeInclusive<u16> = 0x0a..=0xfffe;

impl IpFamily {
    /// Whether the lab has IPv4 pod and Service addresses.
    pub fn has_v4(self) -> bool {
        self != IpFamily::Ipv6
    }

    /// Whether the lab has IPv6 pod and Service addresses.
    pub fn has_v6(self) -> bool {
        self != IpFamily::Ipv4
    }

    /// Keeps the addresses of the lab's families from `(v4, v6)`, IPv4 first.
    fn pick(self, v4: Ipv4Addr, v6: Ipv6Addr) -> Vec<IpAddr> {
        let v4 = self.has_v4().then_some(IpAddr::V4(v4));
        let v6 = self.has_v6().then_some(IpAddr::V6(v6));
        v4.into_iter().chain(v6).collect()
    }

    /// The addresses of host `k` on node `node`'s pod network (k = 1 is the node's gateway).
    pub fn pod_ips(self, node: u8, k: u8) -> Vec<IpAddr> {
        self.pick(Ipv4Addr::new(10, 244, node, k), pod_ip6(node, k))
    }

    /// The addresses of external host `m` on the fabric.
    pub fn external_ips(self, m: u8) -> Vec<IpAddr> {
        let v6 = Ipv6Addr::new(0xfd00, 0x10, 0x250, 0, 0, 0, 1, u16::from(m));
        self.pick(Ipv4Addr::new(10, 250, 1, m), v6)
    }

    /// `ipFamilies` of a Service in this lab.
    pub fn names(self) -> Vec<String> {
        let names = match self {
            IpFamily::Ipv4 => &["IPv4"][..],
            IpFamily::Ipv6 => &["IPv6"],
            IpFamily::Dual => &["IPv4", "IPv6"],
        };
        names.iter().map(|n| n.to_string()).collect()
    }

    /// `ipFamilyPolicy` of a Service in this lab.
    pub fn policy(self) -> &'static str {
        match self {
            IpFamily::Dual => "RequireDualStack",
            _ => "SingleStack",
        }
    }
}

/// Host `k` of node `node`'s IPv6 pod network.
pub fn pod_ip6(node: u8, k: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x10, 0x244, u16::from(node), 0, 0, 0, u16::from(k))
}

/// Node `node`'s IPv6 address on the fabric.
pub fn node_ip6(node: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x10, 0x250, 0, 0, 0, 0, u16::from(node))
}

/// The `/64` of node `node`'s IPv6 pod network.
pub fn pod_net6(node: u8) -> String {
    format!("{}/64", pod_ip6(node, 0))
}

/// The first IPv6 ClusterIP not in `taken`.
pub fn free_cluster_ip6(taken: &[IpAddr]) -> Option<Ipv6Addr> {
    CLUSTER_IP6_HOSTS
        .map(|host| Ipv6Addr::new(0xfd00, 0x10, 0x96, 0, 0, 0, 0, host))
        .find(|ip| !taken.contains(&IpAddr::V6(*ip)))
}

/// Whether `ip` is in the lab's IPv6 ClusterIP range fd00:10:96::/112.
pub fn is_cluster_ip6(ip: Ipv6Addr) -> bool {
    ip.segments()[..7] == [0xfd00, 0x10, 0x96, 0, 0, 0, 0]
}

/// `ip/len` for an `ip addr add`, with `nodad` for IPv6 (no duplicate address detection: the
/// lab's addresses are unique by construction, and DAD would delay their use).
pub fn addr_args(ip: IpAddr, v4_len: u8, v6_len: u8) -> Vec<String> {
    match ip {
        IpAddr::V4(v4) => vec![format!("{v4}/{v4_len}")],
        IpAddr::V6(v6) => vec![format!("{v6}/{v6_len}"), "nodad".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(ips: Vec<IpAddr>) -> Vec<String> {
        ips.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn pod_addresses_per_family() {
        assert_eq!(strings(IpFamily::Ipv4.pod_ips(2, 7)), ["10.244.2.7"]);
        assert_eq!(strings(IpFamily::Ipv6.pod_ips(2, 7)), ["fd00:10:244:2::7"]);
        assert_eq!(
            strings(IpFamily::Dual.pod_ips(2, 7)),
            ["10.244.2.7", "fd00:10:244:2::7"]
        );
        assert_eq!(pod_net6(3), "fd00:10:244:3::/64");
        assert_eq!(node_ip6(3).to_string(), "fd00:10:250::3");
        assert_eq!(
            strings(IpFamily::Dual.external_ips(4)),
            ["10.250.1.4", "fd00:10:250::1:4"]
        );
    }

    #[test]
    fn ipv6_cluster_ips_are_handed_out_in_order_within_the_range() {
        let first = free_cluster_ip6(&[]).unwrap();
        assert_eq!(first.to_string(), "fd00:10:96::a");
        let second = free_cluster_ip6(&[IpAddr::V6(first)]).unwrap();
        assert_eq!(second.to_string(), "fd00:10:96::b");
        assert!(is_cluster_ip6(second));
        assert!(!is_cluster_ip6("fd00:10:97::a".parse().unwrap()));
    }

    #[test]
    fn services_declare_the_labs_families() {
        assert_eq!(IpFamily::Dual.names(), ["IPv4", "IPv6"]);
        assert_eq!(IpFamily::Dual.policy(), "RequireDualStack");
        assert_eq!(IpFamily::Ipv6.names(), ["IPv6"]);
        let v6 = addr_args("fd00::1".parse().unwrap(), 24, 64);
        assert_eq!(v6, ["fd00::1/64", "nodad"]);
        assert_eq!(
            addr_args("10.0.0.1".parse().unwrap(), 24, 64),
            ["10.0.0.1/24"]
        );
    }
}
