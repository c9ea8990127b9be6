//! The privileged pieces (ztunnel calls them namespaced): the eBPF object, the root check, and
//! Drop guards for the cgroups, network namespaces and processes the tests create. Every
//! netns and cgroup helper of the tests lives below this module.

pub mod cgroup;
pub mod netns;
pub mod pod;
pub mod sock;

use mesh_agent::bpf::MeshBpf;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The release object built by `cargo xtask build-ebpf --release`.
pub fn object_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bpfel-unknown-none/release/mesh-ebpf")
}

/// Whether the test can run: prints `skipped: needs root` and returns false otherwise.
pub fn running_as_root() -> bool {
    running_as_root_for("")
}

/// Like [`running_as_root`], saying what root is needed `for_what` (e.g. `(ip netns add)`).
pub fn running_as_root_for(for_what: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: needs root {for_what}");
    false
}

/// Loads the object; fails loudly (never skips) when it is missing.
pub fn load_mesh_bpf() -> MeshBpf {
    let object = object_path();
    assert!(
        object.is_file(),
        "eBPF object {} missing: run `cargo xtask build-ebpf --release` first",
        object.display()
    );
    MeshBpf::load(&object, None).unwrap_or_else(|e| panic!("loading {}: {e:#}", object.display()))
}

/// A name no other test (in this or another process) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A bash loop doing `n` TCP connects to `addr:port` (closing each right away).
pub fn connect_loop(addr: &str, port: u16, n: usize) -> String {
    format!("for i in $(seq {n}); do exec 3<>/dev/tcp/{addr}/{port} || exit 1; exec 3>&-; done")
}
