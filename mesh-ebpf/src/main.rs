//! Kernel programs of the mesh. Every program delegates to a `try_*` function; every map is
//! declared in `maps.rs`.
#![no_std]
#![no_main]

mod accel;
mod connect;
mod inbound;
mod maps;
mod sockops;
mod splice;

use aya_ebpf::{
    macros::{cgroup_sock_addr, sk_lookup, sk_msg, sock_ops, stream_verdict},
    programs::{SkBuffContext, SkLookupContext, SkMsgContext, SockAddrContext, SockOpsContext},
};

/// Verdict of the cgroup and sk_lookup hooks: let the operation proceed.
const PROCEED: i32 = 1;
/// Verdict of `sk_lookup`: refuse the connection (`SK_DROP`).
const DROP: u32 = 0;

/// `cgroup/connect4` on the mesh cgroup subtree: capture an enrolled pod's IPv4 connects, or
/// refuse those its egress policy does not hold.
#[cgroup_sock_addr(connect4)]
pub fn mesh_connect4(ctx: SockAddrContext) -> i32 {
    connect::try_connect4(&ctx)
}

/// `cgroup/connect6` on the mesh cgroup subtree: capture IPv4-mapped connects as IPv4.
#[cgroup_sock_addr(connect6)]
pub fn mesh_connect6(ctx: SockAddrContext) -> i32 {
    connect::try_connect6(&ctx)
}

/// `sockops` on the mesh cgroup subtree: re-key original destinations at SYN time.
#[sock_ops]
pub fn mesh_sockops(ctx: SockOpsContext) -> u32 {
    sockops::try_sock_ops(&ctx);
    PROCEED as u32
}

/// `sk_lookup` in each enrolled pod netns: steer inbound connections to the agent (refuse
/// them when a fail-closed agent is gone).
#[sk_lookup]
pub fn mesh_sk_lookup(ctx: SkLookupContext) -> u32 {
    match inbound::try_sk_lookup(&ctx) {
        inbound::Lookup::Proceed => PROCEED as u32,
        inbound::Lookup::Refuse => DROP,
    }
}

/// `sk_msg` on `ACCEL_SOCKS`: same-node acceleration.
#[sk_msg]
pub fn mesh_sk_msg(ctx: SkMsgContext) -> u32 {
    accel::try_sk_msg(&ctx)
}

/// `sk_skb` stream verdict on `SPLICE_SOCKS`: L4 splicing (`--l4-splice`).
#[stream_verdict]
pub fn mesh_splice(ctx: SkBuffContext) -> u32 {
    splice::try_splice(&ctx)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
