//! Kernel programs of the mesh. Every program delegates to a `try_*` function; every map is
//! declared in `maps.rs`.
#![no_std]
#![no_main]

mod maps;

use aya_ebpf::{macros::cgroup_sock_addr, programs::SockAddrContext};
use mesh_common::Counter;

/// `cgroup/connect4` on the mesh cgroup subtree. For now it counts the connects it sees; the
/// capture issue turns it into the redirect to the agent.
#[cgroup_sock_addr(connect4)]
pub fn mesh_connect4(ctx: SockAddrContext) -> i32 {
    try_connect4(&ctx);
    // 1 = let the connect proceed.
    1
}

fn try_connect4(_ctx: &SockAddrContext) {
    maps::count(Counter::Bypassed);
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
