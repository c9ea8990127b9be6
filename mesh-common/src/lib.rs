//! The kernel⇄user contract: map keys, values and constants shared by `mesh-ebpf` and
//! `mesh-agent`. Nothing else lives here.
#![no_std]

mod addr;
mod maps;

pub use addr::*;
pub use maps::*;

/// Indexes into the per-CPU `COUNTERS` array map. Each slot counts events seen by the
/// programs attached to the mesh cgroup subtree; the agent sums them over CPUs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Outbound TCP connects redirected to the agent's in-pod listener.
    CapturedOutbound = 0,
    /// Inbound connections steered to the agent's in-pod listener by `sk_lookup`.
    CapturedInbound = 1,
    /// TCP connects seen in the attached subtree and left alone (pod not enrolled, loopback
    /// destination or the pod's own address). The agent's own connects are not counted.
    Bypassed = 2,
    /// Capture attempts that failed (map full, helper error); the connection went direct.
    Errors = 3,
    /// Messages moved between an app's and the agent's socket by same-node acceleration.
    Accelerated = 4,
    /// Outbound connects refused in `connect()`: the pod's egress policy (REGISTRY_ONLY) holds
    /// no address the destination could belong to.
    EgressRefused = 5,
    /// Outbound connects refused in `connect()`: the AuthorizationPolicies of the destination
    /// deny this pod for sure (`CONNECT_DENIED`); the connection would have been refused there.
    AuthzRefused = 6,
    /// Segments the `sk_skb` verdict passed from one of the agent's sockets of a spliced L4
    /// connection straight to the other (`--l4-splice`).
    Spliced = 7,
}

impl Counter {
    /// Every counter, in slot order.
    pub const ALL: [Counter; 8] = [
        Counter::CapturedOutbound,
        Counter::CapturedInbound,
        Counter::Bypassed,
        Counter::Errors,
        Counter::Accelerated,
        Counter::EgressRefused,
        Counter::AuthzRefused,
        Counter::Spliced,
    ];

    /// The name the agent exports it under, without the `mesh_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::CapturedOutbound => "captured_outbound",
            Counter::CapturedInbound => "captured_inbound",
            Counter::Bypassed => "bypassed",
            Counter::Errors => "errors",
            Counter::Accelerated => "accelerated_messages",
            Counter::EgressRefused => "egress_refused",
            Counter::AuthzRefused => "authz_refused",
            Counter::Spliced => "spliced_segments",
        }
    }
}

/// Number of slots in the `COUNTERS` map: more than there are counters, so the next counter
/// added takes a spare slot and the pinned map's layout (which a successor agent must share at
/// a hand-over) stays the same.
pub const COUNTER_SLOTS: u32 = 16;

const _: () = assert!(
    Counter::ALL.len() as u32 <= COUNTER_SLOTS,
    "COUNTERS has no spare slot left"
);

/// Port of the agent's outbound capture listener on 127.0.0.1 inside each enrolled pod netns.
pub const OUTBOUND_CAPTURE_PORT: u16 = 15001;

/// Port of the agent's inbound capture listener inside each enrolled pod netns.
pub const INBOUND_CAPTURE_PORT: u16 = 15006;
