//! The authorization decisions, case by case.

use super::{decide, on_node, Caller, Grant};
use crate::identity::Identity;

fn agents() -> Vec<(String, String)> {
    vec![("mesh-system".into(), "mesh-agent".into())]
}

fn agent_on(node: Option<&str>) -> Caller {
    Caller {
        namespace: "mesh-system".into(),
        service_account: "mesh-agent".into(),
        node: node.map(String::from),
    }
}

fn cart() -> Caller {
    Caller {
        namespace: "shop".into(),
        service_account: "cart".into(),
        node: Some("node-1".into()),
    }
}

fn id(ns: &str, sa: &str) -> Identity {
    Identity {
        trust_domain: "cluster.local".into(),
        namespace: ns.into(),
        service_account: sa.into(),
    }
}

#[test]
fn a_workload_gets_its_own_identity_asked_or_not() {
    assert_eq!(
        decide(&cart(), None, "cluster.local", &agents()),
        Ok(Grant::Own(id("shop", "cart")))
    );
    let asked = Some("spiffe://cluster.local/ns/shop/sa/cart");
    assert_eq!(
        decide(&cart(), asked, "cluster.local", &agents()),
        Ok(Grant::Own(id("shop", "cart")))
    );
}

#[test]
fn a_workload_may_not_impersonate_another() {
    let asked = Some("spiffe://cluster.local/ns/shop/sa/payments");
    let err = decide(&cart(), asked, "cluster.local", &agents()).unwrap_err();
    assert!(
        err.contains("ns/shop/sa/cart may obtain only its own identity"),
        "{err}"
    );
    assert!(err.contains("ns/shop/sa/payments"), "{err}");
}

#[test]
fn a_node_agent_asking_for_a_pod_identity_must_show_it_runs_on_its_node() {
    let asked = Some("spiffe://cluster.local/ns/shop/sa/cart");
    let grant = decide(&agent_on(Some("node-1")), asked, "cluster.local", &agents());
    assert_eq!(
        grant,
        Ok(Grant::OnNode {
            identity: id("shop", "cart"),
            node: "node-1".into()
        })
    );
    let pods = vec![("shop".to_owned(), "cart".to_owned())];
    assert_eq!(on_node(&id("shop", "cart"), "node-1", &pods), Ok(()));
    let err = on_node(&id("shop", "payments"), "node-1", &pods).unwrap_err();
    assert!(err.contains("shop/payments runs on node `node-1`"), "{err}");
    // Same ServiceAccount name, other namespace: not the same identity.
    let err = on_node(&id("other", "cart"), "node-1", &pods).unwrap_err();
    assert!(err.contains("other/cart"), "{err}");
}

#[test]
fn a_node_agent_token_bound_to_no_node_is_refused() {
    let asked = Some("spiffe://cluster.local/ns/shop/sa/cart");
    let err = decide(&agent_on(None), asked, "cluster.local", &agents()).unwrap_err();
    assert!(err.contains("bound to no node"), "{err}");
}

#[test]
fn another_trust_domain_or_shape_is_refused() {
    let asked = Some("spiffe://other.org/ns/shop/sa/cart");
    let err = decide(&agent_on(Some("n")), asked, "cluster.local", &agents()).unwrap_err();
    assert!(err.contains("outside this CA's trust domain"), "{err}");
    let err = decide(
        &agent_on(Some("n")),
        Some("cart"),
        "cluster.local",
        &agents(),
    )
    .unwrap_err();
    assert!(err.contains("`cart`"), "{err}");
}
