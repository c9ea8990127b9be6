//! Privileged: a fail-closed agent's cgroup links outlive it, pinned beside its maps; the next
//! agent (fail-open here) loads those maps, attaches its own links, removes the pinned ones,
//! and on its exit leaves nothing. Needs root and the built object.

use std::path::{Path, PathBuf};

use crate::harness::namespaced;
use crate::harness::namespaced::cgroup::{bash, TestCgroup};
use mesh_agent::bpf::{LinkPins, LoadOptions, MeshBpf, LINKS_DIR};

const CONNECTS: usize = 5;

/// Removes the pin directory when the test ends, also on failure.
struct PinDir(PathBuf);

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(dir: &Path, fail_closed: bool) -> MeshBpf {
    let options = LoadOptions {
        pin_dir: Some(dir.to_path_buf()),
        shared_maps: LinkPins::left_behind(dir),
        fail_closed,
        ..LoadOptions::default()
    };
    MeshBpf::load_with(&namespaced::object_path(), &options).expect("load")
}

/// The pinned links under `dir`, as `<agent>/<name>`.
fn pinned_links(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for agent in std::fs::read_dir(dir.join(LINKS_DIR)).into_iter().flatten() {
        let agent = agent.unwrap().path();
        for link in std::fs::read_dir(&agent).unwrap() {
            let link = link.unwrap().file_name().to_string_lossy().into_owned();
            names.push(link);
        }
    }
    names.sort();
    names
}

#[test]
fn a_fail_closed_agents_links_outlive_it_until_the_next_agent_replaces_them() {
    if !namespaced::running_as_root() {
        return;
    }
    let dir = PinDir(Path::new("/sys/fs/bpf/mesh").join(namespaced::unique_name("test-closed")));
    let cgroup = TestCgroup::new(&namespaced::unique_name("mesh-test-closed"));
    let gone = load(&dir.0, true);
    gone.attach_cgroup(cgroup.path()).expect("attach");
    drop(gone);
    assert_eq!(
        pinned_links(&dir.0),
        ["mesh_connect4", "mesh_connect6", "mesh_sockops"]
    );
    assert!(dir.0.join("ENROLLED").exists(), "the maps stay pinned");

    let next = load(&dir.0, false);
    let before = next.counters().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = namespaced::connect_loop("127.0.0.1", port, CONNECTS);
    assert!(cgroup.run(bash(&script)).success());
    let seen = next.counters().unwrap().connects_seen() - before.connects_seen();
    assert_eq!(
        seen, CONNECTS as u64,
        "the gone agent's programs still run, on the shared maps"
    );

    next.attach_cgroup(cgroup.path()).expect("attach");
    assert!(
        pinned_links(&dir.0).is_empty(),
        "replaced: a fail-open agent pins nothing"
    );
    drop(next);
    assert!(!dir.0.exists(), "a fail-open agent leaves nothing behind");
}
