//! Table tests of PeerAuthentication resolution: scopes, inheritance of UNSET, port levels,
//! oldest wins among equals.

use std::path::Path;
use std::sync::Arc;

use super::PeerAuthenticationMode::{Permissive, Strict};
use crate::snapshot::{build, Labels, Snapshot};

/// A PeerAuthentication `namespace/name` created at `created` (`-`: no timestamp).
fn policy(namespace: &str, name: &str, created: &str, spec: &str) -> String {
    let created = match created {
        "-" => String::new(),
        at => format!(", creationTimestamp: \"{at}\""),
    };
    format!(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n\
         metadata: {{name: {name}, namespace: {namespace}{created}}}\nspec: {spec}\n---\n"
    )
}

fn snapshot(yaml: &str) -> Snapshot {
    let documents = crate::document::parse_documents(Path::new("t.yaml"), yaml).unwrap();
    let (snapshot, problems) = build(&Arc::new(documents), None);
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    snapshot
}

fn web() -> Labels {
    [("app".to_string(), "web".to_string())].into()
}

const STRICT: &str = "{mtls: {mode: STRICT}}";
const PERMISSIVE: &str = "{mtls: {mode: PERMISSIVE}}";
const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-06-01T00:00:00Z";

#[test]
fn nothing_set_is_permissive() {
    let s = snapshot("");
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Permissive);
}

#[test]
fn the_mesh_policy_applies_everywhere_only_from_the_root_namespace() {
    let s = snapshot(&policy("istio-system", "default", "-", STRICT));
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Strict);
    assert_eq!(
        s.peer_authentication_mode("other", &Labels::new(), 80),
        Strict
    );
    let s = snapshot(&policy("elsewhere", "default", "-", STRICT));
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Permissive);
}

#[test]
fn a_namespace_overrides_the_mesh_and_a_workload_the_namespace() {
    let yaml = policy("istio-system", "default", "-", STRICT)
        + &policy("shop", "default", "-", PERMISSIVE)
        + &policy("db", "default", "-", STRICT)
        + &policy(
            "db",
            "web",
            "-",
            "{selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}}",
        );
    let s = snapshot(&yaml);
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Permissive);
    assert_eq!(s.peer_authentication_mode("other", &web(), 80), Strict);
    assert_eq!(s.peer_authentication_mode("db", &web(), 80), Permissive);
    assert_eq!(s.peer_authentication_mode("db", &Labels::new(), 80), Strict);
}

#[test]
fn unset_inherits_from_the_scope_above() {
    let yaml = policy("shop", "default", "-", STRICT)
        + &policy(
            "shop",
            "web",
            "-",
            "{selector: {matchLabels: {app: web}}, mtls: {mode: UNSET}}",
        );
    let s = snapshot(&yaml);
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Strict);
}

#[test]
fn a_port_level_mode_overrides_the_workloads_own_for_that_port_only() {
    let spec = "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, \
                portLevelMtls: {\"8080\": {mode: PERMISSIVE}, \"9090\": {mode: UNSET}}}";
    let s = snapshot(&policy("shop", "web", "-", spec));
    assert_eq!(s.peer_authentication_mode("shop", &web(), 8080), Permissive);
    assert_eq!(s.peer_authentication_mode("shop", &web(), 9090), Strict);
    assert_eq!(s.peer_authentication_mode("shop", &web(), 80), Strict);
}

#[test]
fn among_equals_the_oldest_wins_whatever_the_names() {
    let yaml = policy("shop", "a-newer", T2, STRICT) + &policy("shop", "z-older", T1, PERMISSIVE);
    assert_eq!(
        snapshot(&yaml).peer_authentication_mode("shop", &web(), 80),
        Permissive
    );
    let yaml = policy("shop", "a-newer", T2, PERMISSIVE) + &policy("shop", "z-older", T1, STRICT);
    assert_eq!(
        snapshot(&yaml).peer_authentication_mode("shop", &web(), 80),
        Strict
    );
    let selected = "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}";
    let yaml = policy(
        "shop",
        "new",
        T2,
        PERMISSIVE
            .replace("{mtls", "{selector: {matchLabels: {app: web}}, mtls")
            .as_str(),
    ) + &policy("shop", "old", T1, selected);
    assert_eq!(
        snapshot(&yaml).peer_authentication_mode("shop", &web(), 80),
        Strict
    );
}
