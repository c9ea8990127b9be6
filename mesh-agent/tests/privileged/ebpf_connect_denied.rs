//! Privileged: connect-time denials (`CONNECT_DENIED`) with real programs: a denied (pod,
//! address, port) fails in `connect()` with `EPERM` and counts `authz_refused`, nothing reaches
//! the agent's listener; another port, another pod, an IPv6 socket to the IPv4-mapped address
//! behave as the map says; a pair the plan drops is captured again. Needs root and the object.

use crate::ebpf_capture::Fixture;
use crate::harness::namespaced;
use crate::harness::namespaced::pod::{accept, assert_nothing_queued, SERVICE};
use crate::harness::namespaced::sock::{connect_in, Connect};
use mesh_agent::capture::{ConnectDenials, DeniedConnects, OriginalDsts};
use std::net::SocketAddr;

fn service() -> SocketAddr {
    SERVICE.parse().unwrap()
}

#[test]
fn a_denied_destination_is_refused_in_connect_and_counted() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-deny-conn", "10.218.0.2");
    let denied = ConnectDenials::from([(f.pod.cookie, service())]);
    DeniedConnects::apply(&f.bpf, &denied).expect("write the denials");

    let errno = connect_in(
        Some(f.cgroup.path()),
        &f.pod.netns_file,
        Connect::to(service()),
    );
    assert_eq!(errno, libc::EPERM, "refused in connect()");
    let v6 = Connect {
        ipv6_socket: true,
        ..Connect::to(service())
    };
    let errno = connect_in(Some(f.cgroup.path()), &f.pod.netns_file, v6);
    assert_eq!(
        errno,
        libc::EPERM,
        "an IPv6 socket to the IPv4-mapped address too"
    );
    assert_nothing_queued(&f.pod.outbound);
    let counters = f.bpf.counters().unwrap();
    assert_eq!(counters.authz_refused, 2);
    assert_eq!(counters.captured_outbound, 0);

    let other_port = SocketAddr::new(service().ip(), 81);
    f.connect(Connect::to(other_port));
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(other_port));

    DeniedConnects::apply(&f.bpf, &ConnectDenials::new()).expect("clear the denials");
    f.connect(Connect::to(service()));
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_eq!(
        f.bpf.take(f.pod.cookie, peer),
        Some(service()),
        "captured again"
    );
    assert_eq!(f.bpf.counters().unwrap().authz_refused, 2);
}

#[test]
fn a_denial_is_the_source_pods_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-deny-other", "10.219.0.2");
    let denied = ConnectDenials::from([(f.pod.cookie + 1, service())]);
    DeniedConnects::apply(&f.bpf, &denied).expect("write the denials");
    f.connect(Connect::to(service()));
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(service()));
    assert_eq!(f.bpf.counters().unwrap().authz_refused, 0);
}
