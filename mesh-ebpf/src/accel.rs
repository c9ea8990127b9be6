//! `sk_msg` on `ACCEL_SOCKS`: same-node acceleration. A message sent on one end of a captured
//! loopback connection (app ⇄ agent, inside the pod netns) goes straight into the other end's
//! receive queue, skipping the TCP/IP stack. When the other end isn't in the map yet, the
//! message takes the normal path.

use crate::maps::{self, ACCEL_SOCKS};
use aya_ebpf::{
    bindings::{sk_action::SK_PASS, BPF_F_INGRESS},
    helpers::bpf_get_netns_cookie,
    programs::SkMsgContext,
    EbpfContext,
};
use mesh_common::{AccelKey, Counter};

/// Redirects the message to the peer socket; always passes (a failed redirect means the
/// normal path).
pub fn try_sk_msg(ctx: &SkMsgContext) -> u32 {
    let msg = ctx.msg;
    let (local_port, raw_remote) = unsafe { ((*msg).local_port, (*msg).remote_port) };
    // `remote_port` is network order; some kernels put it in the upper 16 bits.
    let remote_be = if raw_remote > 0xffff {
        raw_remote >> 16
    } else {
        raw_remote
    };
    let mut peer = AccelKey {
        netns_cookie: unsafe { bpf_get_netns_cookie(ctx.as_ptr()) },
        local_port: u32::from(u16::from_be(remote_be as u16)),
        remote_port: local_port,
    };
    if ACCEL_SOCKS.redirect_msg(ctx, &mut peer, u64::from(BPF_F_INGRESS)) == SK_PASS as i64 {
        maps::count(Counter::Accelerated);
    }
    SK_PASS
}
