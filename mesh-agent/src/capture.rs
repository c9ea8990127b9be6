//! What the proxy needs from the capture layer (the eBPF programs), as traits, so the proxy can
//! run and be tested in-process without eBPF. `bpf::` implements them for real.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;

/// The original destinations recorded by `connect4`/`connect6` + `sock_ops` for connections
/// redirected to a pod's outbound listener (127.0.0.1:15001 or [::1]:15001 in the pod's netns).
pub trait OriginalDsts: Send + Sync + 'static {
    /// The destination the app asked for, for the connection from `peer` (the accepted
    /// socket's peer: its port and, by its family, which outbound listener took it) in the
    /// netns with `netns_cookie`; the record is removed. `None` when there is none (not
    /// captured).
    fn take(&self, netns_cookie: u64, peer: SocketAddr) -> Option<SocketAddr>;
}

/// A pod as the capture layer needs to know it.
#[derive(Clone, Debug)]
pub struct CapturedPod<'a> {
    /// `SO_NETNS_COOKIE` of the pod's network namespace.
    pub netns_cookie: u64,
    /// An open fd of the pod's network namespace (`/proc/<pid>/ns/net` or `/var/run/netns/<n>`).
    pub netns: BorrowedFd<'a>,
    /// The node's addresses on the pod's network (at most one per family): connections from
    /// them (kubelet probes) are left alone.
    pub node_ips: Vec<IpAddr>,
    /// Each pod IP (at most one per family) with the agent's inbound listener (port 15006) of
    /// that family inside the pod's netns: inbound connections to the IP are steered to it.
    pub inbound_listeners: Vec<(IpAddr, BorrowedFd<'a>)>,
}

impl CapturedPod<'_> {
    /// The pod's IPs.
    pub fn pod_ips(&self) -> Vec<IpAddr> {
        self.inbound_listeners.iter().map(|(ip, _)| *ip).collect()
    }
}

/// Turns capture on and off for pods.
pub trait PodCapture: Send + Sync + 'static {
    /// Starts capturing the pod's outbound and inbound connections.
    fn enroll(&self, pod: &CapturedPod<'_>) -> anyhow::Result<()>;
    /// Stops capturing: map entries and the pod's `sk_lookup` link are removed.
    fn unenroll(&self, netns_cookie: u64) -> anyhow::Result<()>;
}

/// Which enrolled pods `connect()` limits, and to which addresses: what the agent computes from
/// the configuration (REGISTRY_ONLY namespaces) and the capture layer keeps in its maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPlan {
    /// Netns cookie of a limited pod → its policy.
    pub pods: std::collections::BTreeMap<u64, u32>,
    /// Policy → the addresses and prefixes its pods may connect to.
    pub allowed: std::collections::BTreeMap<u32, Vec<ipnet::IpNet>>,
}

/// The (source pod, destination) pairs `connect()` refuses because the destination's
/// AuthorizationPolicies deny them for sure: the source pod's netns cookie and the address and
/// port its app dials (a pod's, or a ClusterIP's whose every endpoint denies).
pub type ConnectDenials = std::collections::BTreeSet<(u64, SocketAddr)>;

/// Keeps the `connect()` hook's authorization denials.
pub trait DeniedConnects: Send + Sync + 'static {
    /// Makes `denials` the ones in force (pairs it no longer holds are removed).
    fn apply(&self, denials: &ConnectDenials) -> anyhow::Result<()>;
}

/// Keeps the `connect()` hook's egress policies.
pub trait EgressPolicies: Send + Sync + 'static {
    /// Makes `plan` the one in force (entries it no longer holds are removed).
    fn apply(&self, plan: &EgressPlan) -> anyhow::Result<()>;
}

/// The agent's two sockets of an L4 connection joined in the kernel, by socket cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplicedPair {
    /// The client's socket (accepted by the agent).
    pub client: u64,
    /// The upstream socket (dialled by the agent).
    pub upstream: u64,
}

/// Joins an L4 connection's two sockets in the kernel (`--l4-splice`): each one's received
/// bytes leave through the other without crossing into user space.
pub trait Splicer: Send + Sync + 'static {
    /// Joins `client` and `upstream`; bytes already queued on either follow in order. On an
    /// error nothing is joined, and the agent copies as before.
    fn join(&self, client: BorrowedFd<'_>, upstream: BorrowedFd<'_>)
        -> anyhow::Result<SplicedPair>;
    /// The bytes the kernel moved so far: (from the client, from the upstream).
    fn moved(&self, pair: SplicedPair) -> (u64, u64);
    /// Forgets the pair (its sockets leave the socket maps when they close); the bytes moved.
    fn part(&self, pair: SplicedPair) -> (u64, u64);
}
