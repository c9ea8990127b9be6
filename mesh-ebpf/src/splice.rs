//! `sk_skb` stream verdict on `SPLICE_SOCKS`: L4 splicing. Each of the agent's two sockets of a
//! spliced connection (the client's, the upstream's) has its received bytes sent out of the
//! other socket by the kernel, counted per socket in `SPLICED`; user space no longer copies.
//! A socket without an entry (or whose peer is gone) passes its bytes up to the agent.

use crate::maps::{self, SPLICED, SPLICE_PEERS};
use aya_ebpf::{
    bindings::sk_action::{SK_DROP, SK_PASS},
    helpers::bpf_get_socket_cookie,
    programs::SkBuffContext,
    EbpfContext,
};
use mesh_common::Counter;

/// Counts the segment for its socket and redirects it to the peer's egress; passes it up to
/// the socket's own reader when the socket has no peer.
pub fn try_splice(ctx: &SkBuffContext) -> u32 {
    if ctx.len() == 0 {
        // A bare FIN: TCP has taken note of it (the agent reads the end of stream). Sent to the
        // peer, the empty segment would fail its send (EPIPE) and break it.
        return SK_DROP;
    }
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let Some(entry) = SPLICED.get_ptr_mut(cookie) else {
        return SK_PASS;
    };
    let mut peer = unsafe { (*entry).peer_cookie };
    // 0: the peer's egress (its send queue), not its receive queue. A peer gone (closed) sets
    // no redirect, and the bytes go up to this socket's reader (who counts them).
    if SPLICE_PEERS.redirect_skb(ctx, &mut peer, 0) == i64::from(SK_PASS) {
        // The verdict of one socket runs under that socket's lock: one writer per entry.
        unsafe { (*entry).bytes += u64::from(ctx.len()) };
        maps::count(Counter::Spliced);
    }
    SK_PASS
}
