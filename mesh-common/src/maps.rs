//! Keys and values of the maps shared by the kernel programs and the agent.

use crate::addr::{KernelIp, OriginalDst};
use core::net::IpAddr;

/// What the hooks know about an enrolled pod: value of `ENROLLED` (by netns cookie) and of
/// `POD_ADDRS` (one entry per pod IP). An address the pod or node lacks in a family is all
/// zeros (`::`), which is never a peer's address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodInfo {
    /// The pod's IPv4 address (IPv4-mapped): connects to it from inside the pod are the pod
    /// talking to itself (left alone); inbound connections to it are steered to the agent.
    pub pod_ip4: KernelIp,
    /// The pod's IPv6 address, as `pod_ip4` for IPv6.
    pub pod_ip6: KernelIp,
    /// The node's IPv4 address on the pod network (kubelet probes come from it).
    pub node_ip4: KernelIp,
    /// The node's IPv6 address on the pod network.
    pub node_ip6: KernelIp,
}

impl PodInfo {
    /// A pod with `pod_ips` and the node addresses `node_ips`; per family the first address
    /// counts (a pod has at most one IP per family).
    pub fn new(pod_ips: &[IpAddr], node_ips: &[IpAddr]) -> Self {
        let first = |ips: &[IpAddr], v4: bool| {
            ips.iter()
                .find(|ip| ip.is_ipv4() == v4)
                .map(|ip| KernelIp::from_ip(*ip))
                .unwrap_or_default()
        };
        PodInfo {
            pod_ip4: first(pod_ips, true),
            pod_ip6: first(pod_ips, false),
            node_ip4: first(node_ips, true),
            node_ip6: first(node_ips, false),
        }
    }

    /// Whether `ip` is one of the pod's own addresses.
    #[inline(always)]
    pub fn is_own(&self, ip: &KernelIp) -> bool {
        *ip == self.pod_ip4 || *ip == self.pod_ip6
    }

    /// Whether `ip` is the node's address on the pod network.
    #[inline(always)]
    pub fn is_node(&self, ip: &KernelIp) -> bool {
        let unset = KernelIp::default();
        *ip != unset && (*ip == self.node_ip4 || *ip == self.node_ip6)
    }

    /// The pod's addresses (the keys of its `POD_ADDRS` and `LISTENERS` entries).
    pub fn pod_ips(&self) -> impl Iterator<Item = KernelIp> {
        [self.pod_ip4, self.pod_ip6]
            .into_iter()
            .filter(|ip| *ip != KernelIp::default())
    }
}

/// The data of an `EGRESS_ALLOWED` key (an LPM trie, whose key is `{prefix_len: u32, data}`): an
/// egress policy and an address. The policy is always matched whole, so a prefix of `ip` of
/// `n` bits is the prefix length `EGRESS_POLICY_BITS + n` (IPv4 as its IPv4-mapped IPv6 form).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EgressKey {
    /// The policy's id (`EGRESS_POLICY` value).
    pub policy: u32,
    pub ip: KernelIp,
}

/// Bits of the policy id ahead of the address in an `EGRESS_ALLOWED` key.
pub const EGRESS_POLICY_BITS: u32 = 32;

/// Bits of a whole `EGRESS_ALLOWED` key: the policy and a full address.
pub const EGRESS_KEY_BITS: u32 = EGRESS_POLICY_BITS + 128;

/// Entries of `EGRESS_ALLOWED`: addresses and prefixes over every policy.
pub const EGRESS_CAPACITY: u32 = 65536;

/// Key of `CONNECT_DENIED`: a pod's connects to one address and port that the destination's
/// AuthorizationPolicies deny for sure.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeniedConnectKey {
    /// Cookie of the source pod's network namespace.
    pub netns_cookie: u64,
    /// The destination address (IPv4 as IPv4-mapped), as the app dialled it.
    pub ip: KernelIp,
    /// The destination port, host order.
    pub port: u16,
    /// Zero.
    pub _pad: [u8; 6],
}

impl DeniedConnectKey {
    /// The key for connects from the pod of `netns_cookie` to `ip`:`port`.
    pub fn new(netns_cookie: u64, ip: KernelIp, port: u16) -> Self {
        DeniedConnectKey {
            netns_cookie,
            ip,
            port,
            _pad: [0; 6],
        }
    }
}

/// Entries of `CONNECT_DENIED`: (source pod, destination) pairs over every pod of the node.
pub const CONNECT_DENIED_CAPACITY: u32 = 16384;

/// Key of `ORIG_DSTS`: a captured connection as the agent's outbound listener sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OriginalDstKey {
    /// Cookie of the pod's network namespace (`SO_NETNS_COOKIE` of the listener).
    pub netns_cookie: u64,
    /// The app socket's source port (the accepted socket's peer port), host order.
    pub source_port: u16,
    /// `FAMILY_IPV4` or `FAMILY_IPV6` of the app's socket: an IPv4 and an IPv6 connect may
    /// get the same ephemeral port.
    pub family: u16,
    /// Zero.
    pub _pad: [u8; 4],
}

impl OriginalDstKey {
    /// The key for a connection of `family` from `source_port` in the netns with
    /// `netns_cookie`.
    pub const fn new(netns_cookie: u64, family: u16, source_port: u16) -> Self {
        OriginalDstKey {
            netns_cookie,
            source_port,
            family,
            _pad: [0; 4],
        }
    }
}

/// Key of `FLOWS`: connections from one pod to one destination.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Cookie of the source pod's network namespace.
    pub netns_cookie: u64,
    /// The destination the app asked for.
    pub dst: OriginalDst,
    /// Zero.
    pub _pad: u32,
}

/// Key of `ACCEL_SOCKS`: one end of a captured loopback connection inside a pod netns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccelKey {
    /// Cookie of the pod's network namespace.
    pub netns_cookie: u64,
    /// This socket's local port, host order.
    pub local_port: u32,
    /// This socket's remote port, host order.
    pub remote_port: u32,
}

/// Value of `SPLICED`, keyed by the socket cookie of one of the agent's two sockets of a spliced
/// L4 connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpliceEntry {
    /// Cookie of the other socket: where this socket's received bytes are sent.
    pub peer_cookie: u64,
    /// Bytes this socket received and the kernel passed to the peer.
    pub bytes: u64,
}

/// Capacity of `SPLICE_SOCKS` and `SPLICED` (the agent's sockets of spliced connections).
pub const SPLICE_CAPACITY: u32 = 65536;

/// Capacity of `SOCK_DSTS` and `ORIG_DSTS` (connections between connect() and accept()).
pub const ORIGINAL_DST_CAPACITY: u32 = 65536;
/// Capacity of `FLOWS`.
pub const FLOW_CAPACITY: u32 = 16384;
/// Capacity of `ENROLLED`, `POD_ADDRS` and `LISTENERS` (pods per node).
pub const POD_CAPACITY: u32 = 1024;
/// Capacity of `ACCEL_SOCKS`.
pub const ACCEL_CAPACITY: u32 = 65536;

#[cfg(feature = "user")]
mod pod_impls {
    // SAFETY: all are #[repr(C)] plain integers without padding (sizes 16, 64, 16, 20, 32, 16, 20, 32).
    unsafe impl aya::Pod for crate::KernelIp {}
    unsafe impl aya::Pod for crate::PodInfo {}
    unsafe impl aya::Pod for crate::OriginalDstKey {}
    unsafe impl aya::Pod for crate::OriginalDst {}
    unsafe impl aya::Pod for crate::FlowKey {}
    unsafe impl aya::Pod for crate::AccelKey {}
    unsafe impl aya::Pod for crate::EgressKey {}
    unsafe impl aya::Pod for crate::DeniedConnectKey {}
    // SAFETY: two u64, no padding.
    unsafe impl aya::Pod for crate::SpliceEntry {}
}

/// Entries of `AGENT_CGROUPS`: the cgroups of this node's agents, the running one and those it
/// took over from (LRU: the oldest falls out).
pub const AGENT_CGROUP_CAPACITY: u32 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pod_info_holds_one_address_per_family() {
        let info = PodInfo::new(
            &[ip("fd00:10:244:1::5"), ip("10.244.1.5")],
            &[ip("10.244.1.1"), ip("fd00:10:244:1::1")],
        );
        assert_eq!(info.pod_ip4, KernelIp::from_ip(ip("10.244.1.5")));
        assert_eq!(info.pod_ip6, KernelIp::from_ip(ip("fd00:10:244:1::5")));
        assert!(info.is_own(&KernelIp::from_ip(ip("fd00:10:244:1::5"))));
        assert!(info.is_node(&KernelIp::from_ip(ip("fd00:10:244:1::1"))));
        assert!(!info.is_node(&KernelIp::from_ip(ip("fd00:10:244:1::2"))));
        assert_eq!(info.pod_ips().count(), 2);
    }

    #[test]
    fn a_missing_family_is_never_a_peer() {
        let info = PodInfo::new(&[ip("fd00:10:244:1::5")], &[]);
        assert_eq!(info.pod_ips().count(), 1);
        assert!(!info.is_node(&KernelIp::default()));
        assert!(!info.is_own(&KernelIp::from_ip(ip("0.0.0.0"))));
        assert_eq!(size_of::<PodInfo>(), 64);
        assert_eq!(size_of::<OriginalDstKey>(), 16);
        assert_eq!(size_of::<DeniedConnectKey>(), 32);
    }
}
