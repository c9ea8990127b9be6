//! Privileged: same-node acceleration. With it on, messages between an app's captured socket
//! and the agent's accepted socket are moved by `sk_msg` (counted in `Accelerated`) and still
//! arrive intact; with it off, nothing is redirected. Needs root and the built object.

use crate::harness::namespaced;
use crate::harness::namespaced::cgroup::TestCgroup;
use crate::harness::namespaced::pod::{accept, TestPod, SERVICE};
use crate::harness::namespaced::sock::{connect_in, Connect};
use mesh_agent::bpf::{LoadOptions, MeshBpf};
use mesh_agent::capture::PodCapture;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};

/// Runs one pong/ping exchange between a captured app and the agent's accepted socket;
/// returns the `Accelerated` counter afterwards.
fn exchange(accelerate: bool, test: &str, pod_ip: &str) -> u64 {
    let options = LoadOptions {
        accelerate,
        ..LoadOptions::default()
    };
    let bpf = MeshBpf::load_with(&namespaced::object_path(), &options).expect("load");
    let cgroup = TestCgroup::new(&namespaced::unique_name(test));
    bpf.attach_cgroup(cgroup.path()).expect("attach");
    let ip: IpAddr = pod_ip.parse().unwrap();
    let pod = TestPod::new(
        &namespaced::unique_name(test),
        ip,
        Some(&format!("{ip}/32")),
    );
    bpf.enroll(&pod.captured(&[])).expect("enroll");

    let how = Connect {
        ping_pong: true,
        ..Connect::to(SERVICE.parse::<SocketAddr>().unwrap())
    };
    let cgroup_path = cgroup.path().to_path_buf();
    let netns = pod.netns.file();
    let app = std::thread::spawn(move || connect_in(Some(&cgroup_path), &netns.as_raw_fd(), how));
    let (mut conn, peer) = accept(&pod.outbound);
    conn.set_nonblocking(false).unwrap();
    bpf.accelerate_accepted(conn.as_fd(), pod.cookie, peer.port())
        .expect("accelerate");
    conn.write_all(b"pong").unwrap();
    let mut ping = [0u8; 4];
    conn.read_exact(&mut ping).unwrap();
    assert_eq!(&ping, b"ping");
    assert_eq!(
        app.join().unwrap(),
        0,
        "the app's side of the exchange failed"
    );
    bpf.counters().unwrap().accelerated
}

#[test]
fn accelerated_messages_skip_the_stack_and_arrive_intact() {
    if !namespaced::running_as_root() {
        return;
    }
    assert_eq!(exchange(true, "mesh-accel-on", "10.230.0.2"), 2);
}

#[test]
fn nothing_is_redirected_when_acceleration_is_off() {
    if !namespaced::running_as_root() {
        return;
    }
    assert_eq!(exchange(false, "mesh-accel-off", "10.231.0.2"), 0);
}
