//! `cgroup/connect4` and `cgroup/connect6`: redirect an enrolled pod's outbound TCP connects
//! to the agent's listener inside the pod's netns — 127.0.0.1:15001 for IPv4 (also IPv4-mapped
//! destinations of IPv6 sockets), [::1]:15001 for plain IPv6 — recording the original
//! destination under the socket cookie. A pod with an egress policy (`EGRESS_POLICY`: the agent
//! gives one to REGISTRY_ONLY pods) is refused at once (`EPERM`) a destination outside it, and
//! so is a destination whose AuthorizationPolicies deny the pod for sure (`CONNECT_DENIED`).

use crate::maps::{self, CONNECT_DENIED, EGRESS_ALLOWED, EGRESS_POLICY, ENROLLED, SOCK_DSTS};
use aya_ebpf::{
    bindings::bpf_sock_addr,
    helpers::{bpf_get_current_cgroup_id, bpf_get_netns_cookie, bpf_get_socket_cookie},
    maps::lpm_trie::Key,
    programs::SockAddrContext,
    EbpfContext,
};
use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};
use mesh_common::{
    Counter, DeniedConnectKey, EgressKey, KernelIp, OriginalDst, EGRESS_KEY_BITS, FAMILY_IPV4,
    FAMILY_IPV6, LOCALHOST_V4_WORD, LOCALHOST_V6, OUTBOUND_CAPTURE_PORT,
};

/// What a connect hook returns to let the connect proceed, or to fail it with `EPERM`.
pub const PROCEED: i32 = 1;
pub const REFUSE: i32 = 0;

const IPPROTO_TCP: u32 = 6;

/// What a connect hook decided.
enum Verdict {
    /// Not TCP, or the agent's own socket: not ours to count.
    Ignore,
    /// Left alone.
    Bypass,
    /// Redirect to the agent, recording this destination.
    Capture(OriginalDst),
    /// Outside the pod's egress policy, or denied by the destination's policies: the connect
    /// fails at once, counted in this slot.
    Refuse(Counter),
}

/// `connect4`: IPv4 destinations. [`PROCEED`] or [`REFUSE`].
pub fn try_connect4(ctx: &SockAddrContext) -> i32 {
    let sa = ctx.sock_addr;
    let word = unsafe { read_volatile(addr_of!((*sa).user_ip4)) };
    let dst = original_dst(sa, KernelIp::from_ipv4_word(word));
    match decide(ctx, dst) {
        Verdict::Capture(dst) => {
            if record(ctx, &dst) {
                unsafe { write_volatile(addr_of_mut!((*sa).user_ip4), LOCALHOST_V4_WORD) };
                redirect_port(sa);
            }
        }
        Verdict::Bypass => maps::count(Counter::Bypassed),
        Verdict::Ignore => {}
        Verdict::Refuse(counter) => {
            maps::count(counter);
            return REFUSE;
        }
    }
    PROCEED
}

/// `connect6`: IPv4-mapped destinations are captured as IPv4 (to ::ffff:127.0.0.1), plain
/// IPv6 ones as IPv6 (to ::1). [`PROCEED`] or [`REFUSE`].
pub fn try_connect6(ctx: &SockAddrContext) -> i32 {
    let sa = ctx.sock_addr;
    let mut words = [0u32; 4];
    for (i, word) in words.iter_mut().enumerate() {
        // One 32-bit word at a time: the verifier rejects wider context reads.
        *word = unsafe { read_volatile(addr_of!((*sa).user_ip6[i])) };
    }
    let ip = KernelIp { words };
    match decide(ctx, original_dst(sa, ip)) {
        Verdict::Capture(dst) => {
            if record(ctx, &dst) {
                if ip.is_ipv4() {
                    // Words 0..2 already hold ::ffff: — only the IPv4 word changes.
                    unsafe { write_volatile(addr_of_mut!((*sa).user_ip6[3]), LOCALHOST_V4_WORD) };
                } else {
                    for (i, word) in LOCALHOST_V6.words.iter().enumerate() {
                        unsafe { write_volatile(addr_of_mut!((*sa).user_ip6[i]), *word) };
                    }
                }
                redirect_port(sa);
            }
        }
        Verdict::Bypass => maps::count(Counter::Bypassed),
        Verdict::Ignore => {}
        Verdict::Refuse(counter) => {
            maps::count(counter);
            return REFUSE;
        }
    }
    PROCEED
}

/// The destination of the connect, with its port in host order.
#[inline(always)]
fn original_dst(sa: *mut bpf_sock_addr, ip: KernelIp) -> OriginalDst {
    // `user_port` holds the port in network order in its low 16 bits.
    let port = unsafe { read_volatile(addr_of!((*sa).user_port)) } as u16;
    OriginalDst {
        ip,
        port: u16::from_be(port),
        family: if ip.is_ipv4() {
            FAMILY_IPV4
        } else {
            FAMILY_IPV6
        },
    }
}

#[inline(always)]
fn decide(ctx: &SockAddrContext, dst: OriginalDst) -> Verdict {
    let sa = ctx.sock_addr;
    if unsafe { (*sa).protocol } != IPPROTO_TCP {
        return Verdict::Ignore;
    }
    // The agent is known by its cgroup, which no pod can enter; a socket option (a mark) any
    // process with CAP_NET_ADMIN could set, so nothing a socket carries is trusted.
    // An upgrade's other agent (`AGENT_CGROUPS`) is known the same way.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    if cgroup == maps::agent_cgroup() || unsafe { maps::AGENT_CGROUPS.get(cgroup) }.is_some() {
        return Verdict::Ignore;
    }
    let netns = unsafe { bpf_get_netns_cookie(ctx.as_ptr()) };
    let Some(pod) = (unsafe { ENROLLED.get(netns) }) else {
        return Verdict::Bypass;
    };
    maps::count_flow(netns, &dst);
    if dst.ip.is_loopback() || pod.is_own(&dst.ip) {
        return Verdict::Bypass;
    }
    // A pod without an IPv6 address has no [::1]:15001 listener (nor an IPv6 route).
    if !dst.ip.is_ipv4() && pod.pod_ip6 == KernelIp::default() {
        return Verdict::Bypass;
    }
    if !egress_allows(netns, &dst.ip) {
        return Verdict::Refuse(Counter::EgressRefused);
    }
    let denied = DeniedConnectKey::new(netns, dst.ip, dst.port);
    if unsafe { CONNECT_DENIED.get(denied) }.is_some() {
        return Verdict::Refuse(Counter::AuthzRefused);
    }
    Verdict::Capture(dst)
}

/// Whether the pod of `netns` may connect to `ip`: always, unless the agent gave it an egress
/// policy, whose addresses must then hold `ip`.
#[inline(always)]
fn egress_allows(netns: u64, ip: &KernelIp) -> bool {
    let Some(policy) = (unsafe { EGRESS_POLICY.get(netns) }) else {
        return true;
    };
    let key = Key::new(
        EGRESS_KEY_BITS,
        EgressKey {
            policy: *policy,
            ip: *ip,
        },
    );
    EGRESS_ALLOWED.get(&key).is_some()
}

/// Records the original destination; false (and counted as an error) when it can't.
#[inline(always)]
fn record(ctx: &SockAddrContext, dst: &OriginalDst) -> bool {
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    if SOCK_DSTS.insert(cookie, dst, 0).is_err() {
        maps::count(Counter::Errors);
        return false;
    }
    maps::count(Counter::CapturedOutbound);
    true
}

#[inline(always)]
fn redirect_port(sa: *mut bpf_sock_addr) {
    let port = u32::from(OUTBOUND_CAPTURE_PORT.to_be());
    unsafe { write_volatile(addr_of_mut!((*sa).user_port), port) };
}
