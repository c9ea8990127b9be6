//! The conf dir on disk: which file is primary, install, reinstall after a rewrite, uninstall.

use super::*;
use crate::conflist::mesh_entry;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mesh-cni-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }
    /// The visible files (what a runtime lists).
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }
    fn all_names(&self) -> usize {
        std::fs::read_dir(&self.0).unwrap().count()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Written by hand, with its own formatting: uninstall must give back these bytes.
const FLANNEL: &str = "{\n\t\"name\": \"cbr0\",\n\t\"cniVersion\": \"0.3.1\",\n\t\"plugins\": [\n\t\t{ \"type\": \"flannel\", \"delegate\": { \"hairpinMode\": true } },\n\t\t{ \"type\": \"portmap\", \"capabilities\": { \"portMappings\": true } }\n\t]\n}\n";
const BRIDGE_CONF: &str = r#"{"cniVersion":"0.4.0","name":"mynet","type":"bridge","bridge":"cni0","ipam":{"type":"host-local","subnet":"10.22.0.0/16"}}"#;

fn entry() -> Value {
    mesh_entry(&[("agent_socket", "/run/mesh-agent/enroll.sock")])
}

#[test]
fn the_primary_is_the_first_file_by_name() {
    let dir = Scratch::new();
    dir.write(
        "99-loopback.conf",
        r#"{"cniVersion":"1.0.0","name":"lo","type":"loopback"}"#,
    );
    dir.write("10-flannel.conflist", FLANNEL);
    dir.write("05-readme.txt", "not a configuration");
    let got = ensure_installed(&dir.0, &entry()).unwrap();
    assert_eq!(got, Installed::Appended(dir.0.join("10-flannel.conflist")));
    assert!(
        !dir.read("99-loopback.conf").contains("mesh-cni"),
        "only the primary changes"
    );
}

#[test]
fn a_conflist_gets_our_entry_once() {
    let dir = Scratch::new();
    dir.write("10-flannel.conflist", FLANNEL);
    ensure_installed(&dir.0, &entry()).unwrap();
    let list: Value = serde_json::from_str(&dir.read("10-flannel.conflist")).unwrap();
    let types: Vec<&str> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["flannel", "portmap", "mesh-cni"]);
    assert_eq!(
        list["plugins"][2]["agent_socket"],
        "/run/mesh-agent/enroll.sock"
    );
    let again = ensure_installed(&dir.0, &entry()).unwrap();
    assert_eq!(again, Installed::Already(dir.0.join("10-flannel.conflist")));
    assert_eq!(
        dir.names(),
        ["10-flannel.conflist"],
        "no temp file left visible"
    );
}

#[test]
fn a_lone_conf_is_replaced_by_a_conflist_and_comes_back() {
    let dir = Scratch::new();
    dir.write("10-bridge.conf", BRIDGE_CONF);
    let got = ensure_installed(&dir.0, &entry()).unwrap();
    assert_eq!(got, Installed::Appended(dir.0.join("10-bridge.conflist")));
    assert_eq!(dir.names(), ["10-bridge.conflist"]);
    let list: Value = serde_json::from_str(&dir.read("10-bridge.conflist")).unwrap();
    assert_eq!(list["plugins"][0]["type"], "bridge");
    assert_eq!(list["plugins"][1]["type"], "mesh-cni");
    assert_eq!(list["cniVersion"], "0.4.0");
    uninstall(&dir.0).unwrap();
    assert_eq!(dir.names(), ["10-bridge.conf"]);
    assert_eq!(dir.read("10-bridge.conf"), BRIDGE_CONF, "byte for byte");
    assert_eq!(
        dir.all_names(),
        1,
        "nothing of ours left, hidden files included"
    );
}

#[test]
fn uninstall_leaves_the_primary_exactly_as_it_was() {
    let dir = Scratch::new();
    dir.write("10-flannel.conflist", FLANNEL);
    ensure_installed(&dir.0, &entry()).unwrap();
    ensure_installed(&dir.0, &entry()).unwrap();
    let changed = uninstall(&dir.0).unwrap();
    assert_eq!(changed, [dir.0.join("10-flannel.conflist")]);
    assert_eq!(dir.read("10-flannel.conflist"), FLANNEL);
    assert_eq!(dir.all_names(), 1);
    assert!(
        uninstall(&dir.0).unwrap().is_empty(),
        "a second uninstall finds nothing"
    );
}

#[test]
fn a_rewritten_primary_gets_our_entry_again_and_keeps_its_rewrite_on_uninstall() {
    let dir = Scratch::new();
    dir.write(
        "05-cilium.conflist",
        r#"{"cniVersion":"0.3.1","name":"cilium","plugins":[{"type":"cilium-cni"}]}"#,
    );
    ensure_installed(&dir.0, &entry()).unwrap();
    // Cilium rewrites its file from its template: our entry is gone.
    let rewritten = r#"{"cniVersion":"0.3.1","name":"cilium","plugins":[{"type":"cilium-cni","enable-debug":true}]}"#;
    dir.write("05-cilium.conflist", rewritten);
    let got = ensure_installed(&dir.0, &entry()).unwrap();
    assert_eq!(got, Installed::Appended(dir.0.join("05-cilium.conflist")));
    assert!(dir.read("05-cilium.conflist").contains("mesh-cni"));
    uninstall(&dir.0).unwrap();
    assert_eq!(
        dir.read("05-cilium.conflist"),
        rewritten,
        "the rewrite is what comes back"
    );
}

#[test]
fn an_edit_after_ours_is_kept_on_uninstall() {
    let dir = Scratch::new();
    dir.write("10-flannel.conflist", FLANNEL);
    ensure_installed(&dir.0, &entry()).unwrap();
    // Someone appends a plugin after ours: uninstall must only take ours out.
    let mut list: Value = serde_json::from_str(&dir.read("10-flannel.conflist")).unwrap();
    list["plugins"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "bandwidth"}));
    dir.write("10-flannel.conflist", &list.to_string());
    uninstall(&dir.0).unwrap();
    let after: Value = serde_json::from_str(&dir.read("10-flannel.conflist")).unwrap();
    let types: Vec<&str> = after["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["flannel", "portmap", "bandwidth"]);
}

#[test]
fn no_primary_yet_and_bad_primary() {
    let dir = Scratch::new();
    assert_eq!(
        ensure_installed(&dir.0, &entry()).unwrap(),
        Installed::NoPrimary
    );
    dir.write("10-broken.conflist", "{");
    let err = ensure_installed(&dir.0, &entry()).unwrap_err();
    assert!(err.starts_with("10-broken.conflist: "), "{err}");
}

#[test]
fn a_new_socket_updates_our_entry_and_uninstall_still_restores() {
    let dir = Scratch::new();
    dir.write("10-flannel.conflist", FLANNEL);
    ensure_installed(&dir.0, &entry()).unwrap();
    let moved = mesh_entry(&[("agent_socket", "/var/run/mesh/enroll.sock")]);
    ensure_installed(&dir.0, &moved).unwrap();
    assert!(dir
        .read("10-flannel.conflist")
        .contains("/var/run/mesh/enroll.sock"));
    uninstall(&dir.0).unwrap();
    assert_eq!(dir.read("10-flannel.conflist"), FLANNEL);
}
