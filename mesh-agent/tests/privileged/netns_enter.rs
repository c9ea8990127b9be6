//! Privileged: `Netns::enter` runs its job on the calling thread inside the pod's netns (no
//! helper-thread round trip per upstream socket) and always returns the thread to the agent's
//! own netns, also when the job panics.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::harness::namespaced;
use crate::harness::namespaced::netns::TestNetns;
use mesh_agent::net::{netns_cookie, Netns};

/// The (device, inode) of the calling thread's netns.
fn thread_netns() -> (u64, u64) {
    let meta = fs::metadata("/proc/thread-self/ns/net").expect("own netns");
    (meta.dev(), meta.ino())
}

fn udp_socket_cookie() -> u64 {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
    netns_cookie(&socket).expect("SO_NETNS_COOKIE")
}

fn open_test_netns(prefix: &str) -> Option<(TestNetns, Netns)> {
    if !namespaced::running_as_root_for("(ip netns add, setns)") {
        return None;
    }
    let test = TestNetns::new(&namespaced::unique_name(prefix));
    let path = PathBuf::from("/run/netns").join(test.name());
    let netns = Netns::open(&path).expect("open the test netns");
    Some((test, netns))
}

#[test]
fn a_job_runs_on_the_calling_thread_inside_the_netns_and_the_thread_comes_back() {
    let Some((_test, netns)) = open_test_netns("mesh-enter") else {
        return;
    };
    let home = thread_netns();
    let home_cookie = udp_socket_cookie();
    let caller = std::thread::current().id();
    let (thread, inside, cookie) = netns
        .enter(|| {
            (
                std::thread::current().id(),
                thread_netns(),
                udp_socket_cookie(),
            )
        })
        .expect("enter");
    assert_eq!(thread, caller, "the job ran on another thread");
    assert_ne!(inside, home, "the job did not run in the pod's netns");
    assert_ne!(
        cookie, home_cookie,
        "the socket was not created in the pod's netns"
    );
    assert_eq!(thread_netns(), home, "the thread stayed in the pod's netns");
    assert_eq!(udp_socket_cookie(), home_cookie);
}

#[test]
fn a_panicking_job_still_returns_the_thread_home() {
    let Some((_test, netns)) = open_test_netns("mesh-enter-p") else {
        return;
    };
    let home = thread_netns();
    let result = catch_unwind(AssertUnwindSafe(|| {
        netns.enter(|| panic!("job failed")).ok();
    }));
    assert!(result.is_err(), "the panic was not propagated");
    assert_eq!(thread_netns(), home, "the thread stayed in the pod's netns");
}

#[test]
fn the_agents_own_netns_needs_no_setns() {
    let home = thread_netns();
    let netns = Netns::open("/proc/thread-self/ns/net".as_ref()).expect("own netns");
    let inside = netns.enter(thread_netns).expect("enter");
    assert_eq!(inside, home);
}
