//! The privileged tests, one binary (ztunnel calls them namespaced): real eBPF programs,
//! network namespaces and cgroups. Each needs root and prints `skipped: <why>` without it;
//! the eBPF ones need `cargo xtask build-ebpf --release` first. Names are unique per test, so
//! they run in parallel without a lock.

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

mod admin_peer;
mod ebpf_accel;
mod ebpf_capture;
mod ebpf_capture_v6;
mod ebpf_cgroup_root;
mod ebpf_connect_denied;
mod ebpf_counter;
mod ebpf_fail_closed;
mod ebpf_kernel;
mod ebpf_map_layout;
mod ebpf_splice;
mod ebpf_stale_pins;
mod enroll_reconcile;
mod enroll_socket;
mod handover;
mod netns_enroll;
mod netns_enter;
mod netns_same_node;
