//! A stand-in for Cilium's socket load balancer, for the lab's coexistence tests only (the agent
//! never loads it): `cgroup/connect4` that rewrites a Service frontend (ClusterIP:port) to a
//! backend (pod IP:target port) in `connect()`, as socket-LB does, and leaves every other
//! destination alone — the mesh's `127.0.0.1:15001` among them.
#![no_std]
#![no_main]

use aya_ebpf::{
    macros::{cgroup_sock_addr, map},
    maps::{HashMap, PerCpuArray},
    programs::SockAddrContext,
};
use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

/// Verdict: let the connect proceed.
const PROCEED: i32 = 1;
/// `LB_COUNTS` slot: connects seen.
const SEEN: u32 = 0;
/// `LB_COUNTS` slot: connects translated to a backend.
const TRANSLATED: u32 = 1;

/// Frontends and the backend each is translated to. Key: frontend, value: backend, both
/// `(user_ip4 << 32) | user_port` as `bpf_sock_addr` holds them (the address as its
/// network-order word, the port in network order in the low 16 bits). Size: 64. Written by the
/// test; read by `socket_lb_connect4`.
#[map(name = "LB_SERVICES")]
static LB_SERVICES: HashMap<u64, u64> = HashMap::with_max_entries(64, 0);

/// What the program did. Key: `SEEN` or `TRANSLATED`. Value: u64 count per CPU. Size: 2.
/// Written by `socket_lb_connect4`; read (summed) by the test.
#[map(name = "LB_COUNTS")]
static LB_COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(2, 0);

/// `cgroup/connect4`: a frontend becomes its backend; anything else is left alone.
#[cgroup_sock_addr(connect4)]
pub fn socket_lb_connect4(ctx: SockAddrContext) -> i32 {
    try_translate(&ctx);
    PROCEED
}

fn try_translate(ctx: &SockAddrContext) {
    let sa = ctx.sock_addr;
    let ip = unsafe { read_volatile(addr_of!((*sa).user_ip4)) };
    let port = unsafe { read_volatile(addr_of!((*sa).user_port)) } & 0xffff;
    count(SEEN);
    let frontend = (u64::from(ip) << 32) | u64::from(port);
    let Some(backend) = (unsafe { LB_SERVICES.get(frontend) }).copied() else {
        return;
    };
    unsafe {
        write_volatile(addr_of_mut!((*sa).user_ip4), (backend >> 32) as u32);
        write_volatile(addr_of_mut!((*sa).user_port), (backend & 0xffff) as u32);
    }
    count(TRANSLATED);
}

fn count(slot: u32) {
    if let Some(counter) = LB_COUNTS.get_ptr_mut(slot) {
        unsafe { *counter += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
