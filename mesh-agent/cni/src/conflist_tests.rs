//! Every shape of primary configuration: a list, a lone plugin, already ours, rewritten.

use super::*;
use serde_json::json;

fn flannel_list() -> Value {
    json!({
        "cniVersion": "1.0.0", "name": "cbr0",
        "plugins": [
            {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    })
}

#[test]
fn appends_to_a_list_once() {
    let entry = mesh_entry(&[("agent_socket", "/run/mesh-agent/enroll.sock")]);
    let once = with_mesh(&flannel_list(), &entry);
    let plugins = once["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 3);
    assert_eq!(
        plugins[2], entry,
        "ours comes last, after the primary plugins"
    );
    assert_eq!(
        with_mesh(&once, &entry),
        once,
        "appending again changes nothing"
    );
    assert_eq!(find_mesh(&once), Some(&entry));
}

#[test]
fn replaces_an_entry_with_other_settings() {
    let old = with_mesh(
        &flannel_list(),
        &mesh_entry(&[("agent_socket", "/old.sock")]),
    );
    let new_entry = mesh_entry(&[("agent_socket", "/new.sock")]);
    let new = with_mesh(&old, &new_entry);
    assert_eq!(new["plugins"].as_array().unwrap().len(), 3);
    assert_eq!(find_mesh(&new), Some(&new_entry));
}

#[test]
fn a_lone_plugin_becomes_a_list() {
    let conf = json!({"cniVersion": "0.3.1", "name": "mynet", "type": "bridge", "bridge": "cni0",
                      "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}});
    let primary = Primary::parse("10-bridge.conf", &conf.to_string()).unwrap();
    assert_eq!(primary, Primary::Single(conf.clone()));
    let list = primary.into_list();
    assert_eq!(list["cniVersion"], "0.3.1");
    assert_eq!(list["name"], "mynet");
    assert_eq!(list["plugins"], json!([conf]));
    let with = with_mesh(&list, &mesh_entry(&[]));
    assert_eq!(with["plugins"][1], json!({"type": "mesh-cni"}));
}

#[test]
fn removing_gives_back_the_list() {
    let entry = mesh_entry(&[]);
    assert_eq!(
        without_mesh(&with_mesh(&flannel_list(), &entry)),
        flannel_list()
    );
    assert_eq!(
        without_mesh(&flannel_list()),
        flannel_list(),
        "nothing of ours: unchanged"
    );
}

#[test]
fn a_rewritten_list_has_no_entry_of_ours() {
    // Cilium rewrites its conflist from its own template: our entry is gone.
    let rewritten = json!({"cniVersion": "0.3.1", "name": "cilium",
                           "plugins": [{"type": "cilium-cni", "enable-debug": false}]});
    assert_eq!(find_mesh(&rewritten), None);
    let again = with_mesh(&rewritten, &mesh_entry(&[]));
    assert!(find_mesh(&again).is_some());
}

#[test]
fn names_the_file_and_the_problem() {
    let err = Primary::parse("05-x.conflist", "{").unwrap_err();
    assert!(
        err.starts_with("05-x.conflist: ") && err.contains("bad JSON"),
        "{err}"
    );
    let err = Primary::parse("05-x.conflist", r#"{"plugins": {}}"#).unwrap_err();
    assert!(err.contains("`plugins` must be a list"), "{err}");
    let err = Primary::parse("05-x.conf", r#"{"name": "x"}"#).unwrap_err();
    assert!(err.contains("neither a plugin list"), "{err}");
    let err = Primary::parse("05-x.conf", "[]").unwrap_err();
    assert!(err.contains("JSON object"), "{err}");
}
