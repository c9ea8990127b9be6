//! Privileged: the capture programs are never attached on the cgroup2 root, where Cilium's
//! socket load balancer attaches (and may detach programs it does not own). Needs root and the
//! built object.

use crate::harness::namespaced;
use mesh_agent::bpf::{BpfError, PodsCgroupError};

#[test]
fn attaching_on_the_cgroup2_root_is_refused() {
    if !namespaced::running_as_root() {
        return;
    }
    let root = mesh_lab::primitives::cgroup2_mount().unwrap_or_else(|e| panic!("{e:#}"));
    let bpf = namespaced::load_mesh_bpf();
    let err = bpf.attach_cgroup(&root).expect_err("attached on the root");
    assert!(
        matches!(err, BpfError::Cgroup(PodsCgroupError::Root(_))),
        "{err}"
    );
    let line = err.to_string();
    assert!(
        !line.contains('\n') && line.contains("kubepods.slice"),
        "{line}"
    );
}
