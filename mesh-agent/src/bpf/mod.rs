//! Loading, attaching and reading the kernel programs of `mesh-ebpf`: `MeshBpf` loads them,
//! attaches the cgroup hooks to the pods' subtree (never the cgroup2 root; pinned when the agent
//! fails closed), implements the `capture` traits (original
//! destinations, pod enrollment) and reads the counters.

mod accel;
mod cgroup_hooks;
mod connect_denied;
mod counters;
mod egress;
mod enroll;
mod kernel;
mod layout;
mod link_pins;
mod loader;
mod mounts;
mod object;
mod original_dst;
mod own_cgroup;
mod pins;
mod pods_cgroup;
mod socket;
mod splice;

pub use counters::{CounterTotals, FlowCount};
pub use kernel::{
    check_kernel, first_missing, KernelError, KernelFeature, Probe, MINIMUM_KERNEL, REQUIRED,
};
pub use layout::{check_pins, LayoutError, MapLayout};
pub use link_pins::{LinkPins, LINKS_DIR};
pub use loader::{BpfError, LoadOptions, MeshBpf};
pub use mounts::{cgroup2_mount, ensure_bpffs, BPFFS_ROOT};
pub use object::{resolve_object, BPF_OBJECT_ENV};
pub use own_cgroup::own_cgroup_id;
pub use pins::{clear_stale, MapPins};
pub use pods_cgroup::{detect_pods_cgroup, refuse_root, PodsCgroupError, KUBEPODS};
pub use socket::socket_netns_cookie;
