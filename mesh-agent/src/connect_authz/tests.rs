//! Which (enrolled pod, destination) pairs `connect()` refuses: pods and ClusterIPs, per
//! identity, only meshed destinations, only sure denials.

use super::*;
use crate::authz::snapshot_of;

fn pod(namespace: &str, ip: &str, cookie: u64) -> EnrolledPod {
    let json = serde_json::json!({
        "namespace": namespace, "name": "p", "uid": "u", "ip": ip,
        "ips": [ip], "node_ips": [], "netns": "/x", "netns_cookie": cookie,
    });
    serde_json::from_value(json).unwrap()
}

/// Namespace `shop` (meshed) with Service `web` (10.96.0.10:80 → 8080) over web-0 and web-1,
/// namespace `plain` (not meshed) with `legacy` (10.96.0.20:80 → 8080) over legacy-0, and
/// clients in `front` (10.244.2.7, sa `web`) and `ops` (10.244.2.8), then `extra`.
fn snapshot(extra: &str) -> Snapshot {
    let yaml = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{istio.io/dataplane-mode: ambient}}}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n\
spec: {{clusterIP: 10.96.0.10, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: web-0, namespace: shop, labels: {{app: web, tier: locked}}}}\nstatus: {{podIP: 10.244.1.5}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: web-1, namespace: shop, labels: {{app: web}}}}\nstatus: {{podIP: 10.244.1.6}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {{name: legacy, namespace: plain}}\n\
spec: {{clusterIP: 10.96.0.20, selector: {{app: legacy}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: legacy-0, namespace: plain, labels: {{app: legacy}}}}\nstatus: {{podIP: 10.244.1.9}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: front}}\nspec: {{serviceAccountName: web}}\nstatus: {{podIP: 10.244.2.7}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: tool, namespace: ops}}\nstatus: {{podIP: 10.244.2.8}}\n---\n{extra}"
    );
    snapshot_of(&yaml)
}

fn policy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
         metadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

fn pairs(list: &[(u64, &str)]) -> ConnectDenials {
    list.iter()
        .map(|(cookie, addr)| (*cookie, addr.parse().unwrap()))
        .collect()
}

fn clients() -> Vec<EnrolledPod> {
    vec![pod("front", "10.244.2.7", 7), pod("ops", "10.244.2.8", 8)]
}

#[test]
fn a_namespace_denied_everywhere_is_refused_its_pods_and_the_cluster_ip() {
    let deny = policy(
        "shop",
        "no-front",
        "{action: DENY, rules: [{from: [{source: {namespaces: [front]}}]}]}",
    );
    let plan = plan(&snapshot(&deny), &clients(), true);
    let want = pairs(&[
        (7, "10.96.0.10:80"),
        (7, "10.244.1.5:8080"),
        (7, "10.244.1.6:8080"),
    ]);
    assert_eq!(plan, want, "only front's pod, only shop's meshed pods");
}

#[test]
fn a_cluster_ip_is_refused_only_when_every_endpoint_denies() {
    let spec =
        "{selector: {matchLabels: {LABEL}}, rules: [{from: [{source: {namespaces: [ops]}}]}]}";
    let web_0 = policy("shop", "ops-only", &spec.replace("LABEL", "tier: locked"));
    let plan_0 = plan(&snapshot(&web_0), &clients(), true);
    assert_eq!(
        plan_0,
        pairs(&[(7, "10.244.1.5:8080")]),
        "web-1 still takes front"
    );
    let both = policy("shop", "ops-only", &spec.replace("LABEL", "app: web"));
    let plan_both = plan(&snapshot(&both), &clients(), true);
    let want = pairs(&[
        (7, "10.96.0.10:80"),
        (7, "10.244.1.5:8080"),
        (7, "10.244.1.6:8080"),
    ]);
    assert_eq!(plan_both, want);
}

#[test]
fn ports_a_policy_names_are_decided_too() {
    let deny = policy(
        "shop",
        "admin-port",
        "{selector: {matchLabels: {tier: locked}}, action: DENY, rules: [{from: [{source: {notNamespaces: [ops]}}], to: [{operation: {ports: ['9090']}}]}]}",
    );
    let plan = plan(&snapshot(&deny), &clients(), true);
    assert_eq!(plan, pairs(&[(7, "10.244.1.5:9090")]));
}

#[test]
fn unmeshed_destinations_and_unsettled_rules_are_left_to_the_destination() {
    let unmeshed = policy("plain", "deny-all", "{}");
    assert!(plan(&snapshot(&unmeshed), &clients(), true).is_empty());
    let by_path = policy(
        "shop",
        "paths",
        "{rules: [{to: [{operation: {paths: [/public]}}]}]}",
    );
    assert!(plan(&snapshot(&by_path), &clients(), true).is_empty());
}

#[test]
fn without_certificates_a_denial_must_also_hold_for_plain_text() {
    let deny = policy(
        "shop",
        "no-front",
        "{action: DENY, rules: [{from: [{source: {namespaces: [front]}}]}]}",
    );
    assert!(
        plan(&snapshot(&deny), &clients(), false).is_empty(),
        "plain text has no namespace"
    );
    let allow = policy(
        "shop",
        "ops-only",
        "{rules: [{from: [{source: {namespaces: [ops]}}]}]}",
    );
    let plan = plan(&snapshot(&allow), &clients(), false);
    assert_eq!(plan.len(), 3, "{plan:?}");
}

#[test]
fn pods_the_registry_does_not_know_get_nothing() {
    let deny = policy("shop", "deny-all", "{}");
    let stranger = [pod("front", "10.244.2.99", 9)];
    assert!(plan(&snapshot(&deny), &stranger, true).is_empty());
}
