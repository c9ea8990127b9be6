//! Privileged: pinned map layouts. A successor asked to share a predecessor's pins whose maps
//! have another layout (an agent of another build pinned them) refuses before loading anything,
//! naming the map and both layouts, and leaves the predecessor's pins and maps alone; a fresh
//! start over such stale pins replaces them. Needs root and the built object.

use std::path::{Path, PathBuf};

use crate::harness::namespaced;
use mesh_agent::bpf::{check_pins, LoadOptions, MeshBpf};

fn load(pin_dir: &Path, shared_maps: bool) -> Result<MeshBpf, mesh_agent::bpf::BpfError> {
    let options = LoadOptions {
        pin_dir: Some(pin_dir.to_path_buf()),
        shared_maps,
        ..LoadOptions::default()
    };
    MeshBpf::load_with(&namespaced::object_path(), &options)
}

/// Pins another map (`AGENT_CGROUPS`: an LRU hash of 16 entries) as `COUNTERS` in `dir`, as
/// a build whose `COUNTERS` had another layout would have left it.
fn pin_counters_of_another_layout(dir: &Path) {
    std::fs::remove_file(dir.join("COUNTERS")).unwrap();
    std::fs::rename(dir.join("AGENT_CGROUPS"), dir.join("COUNTERS")).unwrap();
}

fn node_dir(test: &str) -> PathBuf {
    Path::new("/sys/fs/bpf/mesh").join(namespaced::unique_name(test))
}

#[test]
fn a_successor_refuses_pinned_maps_of_another_layout_and_the_predecessor_keeps_them() {
    if !namespaced::running_as_root() {
        return;
    }
    let dir = node_dir("test-layout-handover");
    let predecessor = load(&dir, false).expect("predecessor loads");
    check_pins(&namespaced::object_path(), &dir).expect("its own pins match");
    pin_counters_of_another_layout(&dir);

    let error = load(&dir, true)
        .err()
        .expect("the successor refuses to share")
        .to_string();
    assert!(error.contains("pinned map COUNTERS"), "{error}");
    assert!(
        error.contains("value 1 B, 16 entries, but this agent's programs need type 6"),
        "{error}"
    );
    assert!(dir.join("ENROLLED").exists(), "the predecessor's pins stay");
    predecessor
        .counters()
        .expect("the predecessor still reads its maps");
    drop(predecessor);
}

#[test]
fn a_fresh_start_replaces_stale_pins_of_another_layout() {
    if !namespaced::running_as_root() {
        return;
    }
    let dir = node_dir("test-layout-fresh");
    let crashed = load(&dir, false).expect("load");
    std::mem::forget(crashed);
    pin_counters_of_another_layout(&dir);
    assert!(check_pins(&namespaced::object_path(), &dir).is_err());

    let agent = load(&dir, false).expect("a fresh start over stale pins");
    check_pins(&namespaced::object_path(), &dir).expect("the pins are the new agent's");
    assert_eq!(agent.counters().unwrap().captured_outbound, 0);
    drop(agent);
    assert!(!dir.exists(), "and they go with it");
}
