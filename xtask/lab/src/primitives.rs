//! The Linux primitives the lab is built from, for other tests that need the same: named
//! network namespaces (`ip netns`), `ip` inside them, and cgroup v2 directories a child process
//! enters before exec. The agent's privileged tests use these instead of their own copies.

pub use crate::lab::cgroup::{cgroup2_mount, create as create_cgroup, enter_hook, remove_tree};
pub use crate::lab::net::{add_netns, delete_netns};
pub use crate::lab::run::{ip, ip_in};
