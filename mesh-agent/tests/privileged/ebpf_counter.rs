//! Privileged: the connect hooks attached to a test cgroup count exactly the TCP connects made
//! from inside it, and nothing from outside. Needs root and the built object.

use crate::harness::namespaced;
use crate::harness::namespaced::cgroup::{bash, TestCgroup};
use mesh_agent::bpf::{LoadOptions, MeshBpf};
use std::net::TcpListener;

const INSIDE: usize = 25;
const OUTSIDE: usize = 7;

#[test]
fn counts_connects_from_the_attached_cgroup_only() {
    if !namespaced::running_as_root() {
        return;
    }
    let bpf = namespaced::load_mesh_bpf();
    let cgroup = TestCgroup::new(&namespaced::unique_name("mesh-test-counter"));
    bpf.attach_cgroup(cgroup.path()).expect("attach");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let before = bpf.counters().unwrap();
    let status = cgroup.run(bash(&namespaced::connect_loop("127.0.0.1", port, INSIDE)));
    assert!(
        status.success(),
        "connect loop in the cgroup failed: {status}"
    );
    let inside = bpf.counters().unwrap();
    // Nothing is enrolled: every connect is seen and bypassed.
    assert_eq!(
        inside.connects_seen() - before.connects_seen(),
        INSIDE as u64
    );
    assert_eq!(inside.bypassed - before.bypassed, INSIDE as u64);
    assert_eq!(inside.captured_outbound, before.captured_outbound);

    let script = namespaced::connect_loop("127.0.0.1", port, OUTSIDE);
    let status = bash(&script).status().unwrap();
    assert!(status.success(), "connect loop outside failed: {status}");
    assert_eq!(
        bpf.counters().unwrap(),
        inside,
        "connects outside the cgroup were counted"
    );
}

#[test]
fn pins_maps_under_the_node_dir_and_removes_them() {
    if !namespaced::running_as_root() {
        return;
    }
    let dir = std::path::Path::new("/sys/fs/bpf/mesh").join(namespaced::unique_name("test-node"));
    let options = LoadOptions {
        pin_dir: Some(dir.clone()),
        ..LoadOptions::default()
    };
    let bpf = MeshBpf::load_with(&namespaced::object_path(), &options).expect("load");
    for map in ["COUNTERS", "ENROLLED", "ORIG_DSTS", "LISTENERS", "FLOWS"] {
        assert!(
            dir.join(map).exists(),
            "{map} not pinned under {}",
            dir.display()
        );
    }
    assert_eq!(bpf.pin_dir(), Some(dir.as_path()));
    drop(bpf);
    assert!(!dir.exists(), "pins left behind in {}", dir.display());
    // The shared parent stays when another agent (a lab node) uses it.
    let _ = std::fs::remove_dir("/sys/fs/bpf/mesh");
}
