//! `sk_msg` on `ACCEL_SOCKS`: same-node acceleration. A message sent on one end of a captured
//! loopback connection (app ⇄ agent, inside the pod netns) goes straight into the other end's
//! receive queue, skipping the TCP/IP stack. When the other end isn't in the map yet, the
//! message takes the normal path, and so does every later one of that end (`ACCEL_PASSED`):
//! bytes queued by the stack and bytes redirected past it would be read out of order (the
//! receiver reads redirected ones first), e.g. a request line written in two parts while the
//! agent peeks at it.

use crate::maps::{self, ACCEL_PASSED, ACCEL_SOCKS};
use aya_ebpf::{
    bindings::{sk_action::SK_PASS, BPF_F_INGRESS},
    helpers::bpf_get_netns_cookie,
    programs::SkMsgContext,
    EbpfContext,
};
use mesh_common::{AccelKey, Counter};

/// Redirects the message to the peer socket, unless this end already sent on the normal path;
/// always passes (a failed redirect means the normal path, from now on).
pub fn try_sk_msg(ctx: &SkMsgContext) -> u32 {
    let msg = ctx.msg;
    let (local_port, raw_remote) = unsafe { ((*msg).local_port, (*msg).remote_port) };
    // `remote_port` is network order; some kernels put it in the upper 16 bits.
    let remote_be = if raw_remote > 0xffff {
        raw_remote >> 16
    } else {
        raw_remote
    };
    let netns_cookie = unsafe { bpf_get_netns_cookie(ctx.as_ptr()) };
    let remote_port = u32::from(u16::from_be(remote_be as u16));
    let own = AccelKey {
        netns_cookie,
        local_port,
        remote_port,
    };
    if unsafe { ACCEL_PASSED.get(own) }.is_some() {
        return SK_PASS;
    }
    let mut peer = AccelKey {
        netns_cookie,
        local_port: remote_port,
        remote_port: local_port,
    };
    if ACCEL_SOCKS.redirect_msg(ctx, &mut peer, u64::from(BPF_F_INGRESS)) == SK_PASS as i64 {
        maps::count(Counter::Accelerated);
    } else if ACCEL_PASSED.insert(own, 1, 0).is_err() {
        maps::count(Counter::Errors);
    }
    SK_PASS
}
