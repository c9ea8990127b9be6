//! `sock_ops`: when a captured connection sends its SYN, re-key its original destination from
//! the socket cookie to (netns cookie, source port), which the agent's listener can name.
//! With acceleration on, also puts the app's end of captured connections into `ACCEL_SOCKS`.

use crate::maps::{self, ACCEL_PASSED, ACCEL_SOCKS, ORIG_DSTS, SOCK_DSTS};
use aya_ebpf::{
    bindings::{
        BPF_ANY, BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB,
        BPF_SOCK_OPS_TCP_CONNECT_CB,
    },
    helpers::{bpf_get_netns_cookie, bpf_get_socket_cookie},
    programs::SockOpsContext,
    EbpfContext,
};
use mesh_common::{AccelKey, Counter, OriginalDstKey, LOCALHOST_V4_WORD, OUTBOUND_CAPTURE_PORT};

/// Dispatches on the socket operation.
pub fn try_sock_ops(ctx: &SockOpsContext) {
    match ctx.op() {
        BPF_SOCK_OPS_TCP_CONNECT_CB => rekey(ctx),
        BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB | BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB
            if maps::accelerate() =>
        {
            accelerate(ctx)
        }
        _ => {}
    }
}

fn rekey(ctx: &SockOpsContext) {
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let Some(dst) = (unsafe { SOCK_DSTS.get(cookie) }).copied() else {
        return;
    };
    let netns = unsafe { bpf_get_netns_cookie(ctx.as_ptr()) };
    // `local_port` is in host order. The destination's family is the family of the listener
    // it was sent to (IPv4-mapped went to 127.0.0.1), which is what the agent knows.
    let key = OriginalDstKey::new(netns, dst.family, ctx.local_port() as u16);
    if ORIG_DSTS.insert(key, dst, 0).is_err() {
        maps::count(Counter::Errors);
    }
    let _ = SOCK_DSTS.remove(cookie);
}

/// Puts an end of a loopback connection to the outbound listener into `ACCEL_SOCKS`.
fn accelerate(ctx: &SockOpsContext) {
    // `remote_port` is in network order in the upper 16 bits.
    let remote_port = u16::from_be((ctx.remote_port() >> 16) as u16);
    let local_port = ctx.local_port() as u16;
    let ours = remote_port == OUTBOUND_CAPTURE_PORT || local_port == OUTBOUND_CAPTURE_PORT;
    if !ours || ctx.family() != 2 || ctx.remote_ip4() != LOCALHOST_V4_WORD {
        return;
    }
    let mut key = AccelKey {
        netns_cookie: unsafe { bpf_get_netns_cookie(ctx.as_ptr()) },
        local_port: u32::from(local_port),
        remote_port: u32::from(remote_port),
    };
    // A new connection on these ports: an earlier one's "normal path" marks are stale.
    let peer = AccelKey {
        local_port: key.remote_port,
        remote_port: key.local_port,
        ..key
    };
    let _ = ACCEL_PASSED.remove(key);
    let _ = ACCEL_PASSED.remove(peer);
    if ACCEL_SOCKS
        .update(&mut key, unsafe { &mut *ctx.ops }, u64::from(BPF_ANY))
        .is_err()
    {
        maps::count(Counter::Errors);
    }
}
