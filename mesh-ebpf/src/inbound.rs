//! `sk_lookup`, attached to each enrolled pod's netns: steers TCP connections for the pod's IPs
//! (any port but the agent's own) to the agent's inbound listener (15006) of that address's
//! family in that netns (`LISTENERS` is keyed by the pod IP: sk_lookup only assigns a socket
//! of the packet's family, or a dual-stack one).
//! Connections from the pod itself, loopback or the node's address (kubelet probes) are left
//! alone. With the agent's listener gone (the agent stopped or crashed), a fail-closed agent's
//! program drops the connection (the client sees it refused); a fail-open one lets it through.

use crate::maps::{self, LISTENERS, POD_ADDRS};
use aya_ebpf::programs::SkLookupContext;
use core::ptr::{addr_of, read_volatile};
use mesh_common::{Counter, KernelIp, PodInfo, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT};

const IPPROTO_TCP: u32 = 6;
const AF_INET: u32 = 2;

/// What `sk_lookup` answers.
pub enum Lookup {
    /// The usual lookup goes on (with the socket the program assigned, if any).
    Proceed,
    /// The connection is refused.
    Refuse,
}

/// Assigns the connection to the pod's inbound listener when it is the pod's to capture;
/// refuses it when that listener is gone and the agent runs fail-closed.
pub fn try_sk_lookup(ctx: &SkLookupContext) -> Lookup {
    let lookup = ctx.lookup;
    if unsafe { (*lookup).protocol } != IPPROTO_TCP {
        return Lookup::Proceed;
    }
    // `local_port` is in host order.
    let port = unsafe { (*lookup).local_port };
    if port == u32::from(INBOUND_CAPTURE_PORT) || port == u32::from(OUTBOUND_CAPTURE_PORT) {
        return Lookup::Proceed;
    }
    let (local, remote) = addresses(ctx);
    let Some(pod) = (unsafe { POD_ADDRS.get(local) }) else {
        return Lookup::Proceed;
    };
    if !from_outside(pod, &remote) {
        return Lookup::Proceed;
    }
    match LISTENERS.redirect_sk_lookup(ctx, local, 0) {
        Ok(()) => {
            maps::count(Counter::CapturedInbound);
            Lookup::Proceed
        }
        // The listener's entry leaves `LISTENERS` when the socket closes: no agent serves the
        // pod. Another program that selected a socket (a successor's) still wins over a drop.
        Err(_) if maps::fail_closed() => Lookup::Refuse,
        Err(_) => {
            maps::count(Counter::Errors);
            Lookup::Proceed
        }
    }
}

/// Whether `remote` is someone other than the pod itself, loopback or the node.
#[inline(always)]
fn from_outside(pod: &PodInfo, remote: &KernelIp) -> bool {
    !(remote.is_loopback() || pod.is_own(remote) || pod.is_node(remote))
}

/// The (local, remote) addresses of the connection.
#[inline(always)]
fn addresses(ctx: &SkLookupContext) -> (KernelIp, KernelIp) {
    let lookup = ctx.lookup;
    unsafe {
        if (*lookup).family == AF_INET {
            return (
                KernelIp::from_ipv4_word((*lookup).local_ip4),
                KernelIp::from_ipv4_word((*lookup).remote_ip4),
            );
        }
        let (mut local, mut remote) = ([0u32; 4], [0u32; 4]);
        for i in 0..4 {
            // One 32-bit word at a time: the verifier rejects wider context reads.
            local[i] = read_volatile(addr_of!((*lookup).local_ip6[i]));
            remote[i] = read_volatile(addr_of!((*lookup).remote_ip6[i]));
        }
        (KernelIp { words: local }, KernelIp { words: remote })
    }
}
