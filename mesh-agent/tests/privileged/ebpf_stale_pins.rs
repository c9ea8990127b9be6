//! Privileged: an agent that crashed leaves its pins (and with them its maps and their stale
//! entries); the next agent of the node removes every one of them, whatever its name, before
//! pinning its own, and never clears a bpffs mount point. Needs root and the built object.

use std::path::Path;

use crate::harness::namespaced;
use mesh_agent::bpf::{LoadOptions, MeshBpf};

fn pinned(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn load(pin_dir: &Path) -> Result<MeshBpf, mesh_agent::bpf::BpfError> {
    let options = LoadOptions {
        pin_dir: Some(pin_dir.to_path_buf()),
        ..LoadOptions::default()
    };
    MeshBpf::load_with(&namespaced::object_path(), &options)
}

#[test]
fn a_new_agent_removes_the_pins_a_crashed_one_left() {
    if !namespaced::running_as_root() {
        return;
    }
    let dir = Path::new("/sys/fs/bpf/mesh").join(namespaced::unique_name("test-crashed-node"));
    // The crash: pinned, then never unloaded; one map of an older build under another name.
    let crashed = load(&dir).expect("load");
    std::mem::forget(crashed);
    let ours = pinned(&dir);
    assert!(ours.contains(&"ENROLLED".to_string()), "{ours:?}");
    std::fs::rename(dir.join("FLOWS"), dir.join("RETIRED_MAP")).unwrap();

    let successor = load(&dir).expect("a new agent starts over the stale pins");
    assert_eq!(pinned(&dir), ours, "exactly the new agent's pins remain");
    drop(successor);
    assert!(!dir.exists(), "and they go with it");
}

#[test]
fn a_bpffs_mount_point_is_never_cleared() {
    if !namespaced::running_as_root() {
        return;
    }
    let error = load(Path::new(mesh_agent::bpf::BPFFS_ROOT))
        .err()
        .expect("pinning into the bpffs root is refused")
        .to_string();
    assert!(error.contains("is a bpffs mount point"), "{error}");
}
