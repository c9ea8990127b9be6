//! Keys and values of the maps shared by the kernel programs and the agent.

use crate::addr::{KernelIp, OriginalDst};

/// What the hooks know about an enrolled pod: value of `ENROLLED` (by netns cookie) and of
/// `POD_ADDRS` (by pod IP).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodInfo {
    /// The pod's IP: connects to it from inside the pod are the pod talking to itself (left
    /// alone); inbound connections to it are steered to the agent.
    pub pod_ip: KernelIp,
    /// The node's address on the pod network (kubelet probes come from it); valid when
    /// `flags` has `PodInfo::HAS_NODE_IP`.
    pub node_ip: KernelIp,
    /// `PodInfo::*` bits.
    pub flags: u32,
}

impl PodInfo {
    /// `node_ip` is set.
    pub const HAS_NODE_IP: u32 = 1;
}

/// Key of `ORIG_DSTS`: a captured connection as the agent's outbound listener sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OriginalDstKey {
    /// Cookie of the pod's network namespace (`SO_NETNS_COOKIE` of the listener).
    pub netns_cookie: u64,
    /// The app socket's source port (the accepted socket's peer port), host order.
    pub source_port: u16,
    /// Zero.
    pub _pad: [u8; 6],
}

impl OriginalDstKey {
    /// The key for a connection from `source_port` in the netns with `netns_cookie`.
    pub const fn new(netns_cookie: u64, source_port: u16) -> Self {
        OriginalDstKey {
            netns_cookie,
            source_port,
            _pad: [0; 6],
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
    // SAFETY: all are #[repr(C)] plain integers without padding (sizes 16, 36, 16, 20, 32, 16).
    unsafe impl aya::Pod for crate::KernelIp {}
    unsafe impl aya::Pod for crate::PodInfo {}
    unsafe impl aya::Pod for crate::OriginalDstKey {}
    unsafe impl aya::Pod for crate::OriginalDst {}
    unsafe impl aya::Pod for crate::FlowKey {}
    unsafe impl aya::Pod for crate::AccelKey {}
}

/// Entries of `AGENT_CGROUPS`: the cgroups of this node's agents, the running one and those it
/// took over from (LRU: the oldest falls out).
pub const AGENT_CGROUP_CAPACITY: u32 = 16;
