//! Which (identity, port) pairs the policies deny for sure, and which they only may deny.

use std::net::SocketAddr;

use super::*;
use crate::authz::snapshot_of;
use crate::identity::Identity;

/// The sure denial of policies of namespace `shop` (p0, p1, ... from `specs`) for a peer of
/// namespace `ns`, service account `sa`, connecting to port `port`.
fn sure(specs: &[&str], peer: Option<(&str, &str)>, port: u16) -> Option<Decision> {
    let docs: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let (annotations, spec) = match spec.strip_prefix("dry-run ") {
                Some(spec) => ("annotations: {istio.io/dry-run: 'true'}, ", spec),
                None => ("", *spec),
            };
            format!(
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
                 metadata: {{name: p{i}, namespace: shop, {annotations}}}\nspec: {spec}\n"
            )
        })
        .collect();
    let snapshot = snapshot_of(&docs.join("---\n"));
    let list: Vec<&AuthzPolicy> = snapshot
        .authz_policies("shop")
        .iter()
        .map(AsRef::as_ref)
        .collect();
    let identity = peer.map(|(ns, sa)| Identity {
        trust_domain: "cluster.local".into(),
        namespace: ns.into(),
        service_account: sa.into(),
    });
    let facts = AuthzFacts {
        peer: identity.as_ref(),
        source_ip: "10.244.2.7".parse().unwrap(),
        remote_ip: "10.244.2.7".parse().unwrap(),
        destination: SocketAddr::new("10.244.1.5".parse().unwrap(), port),
        sni: None,
        http: None,
    };
    surely_denied(&list, &facts)
}

const FRONT: Option<(&str, &str)> = Some(("front", "web"));

fn rule(policy: &str, rule: usize) -> Option<RuleId> {
    Some(RuleId {
        namespace: "shop".into(),
        policy: policy.into(),
        rule,
    })
}

#[test]
fn a_deny_rule_on_identity_alone_denies_for_sure_and_names_itself() {
    let deny = "{action: DENY, rules: [{from: [{source: {namespaces: [front]}}]}]}";
    assert_eq!(sure(&[deny], FRONT, 80).unwrap().rule, rule("p0", 0));
    assert_eq!(sure(&[deny], Some(("back", "web")), 80), None);
    let by_principal = "{action: DENY, rules: [{from: [{source: {principals: ['cluster.local/ns/front/sa/web']}}], to: [{operation: {ports: ['80']}}]}]}";
    assert!(sure(&[by_principal], FRONT, 80).is_some());
    assert_eq!(sure(&[by_principal], FRONT, 81), None, "another port");
}

#[test]
fn an_allow_policy_none_of_whose_rules_can_match_denies_for_sure() {
    let allow = "{rules: [{from: [{source: {namespaces: [back]}}]}]}";
    let denial = sure(&[allow], FRONT, 80).unwrap();
    assert_eq!(denial.rule, None);
    assert_eq!(sure(&[allow], Some(("back", "x")), 80), None);
    assert!(sure(&["{}"], FRONT, 80).is_some(), "spec: {{}} denies all");
    assert!(sure(&["{}"], None, 80).is_some());
    assert_eq!(
        sure(&["{rules: [{}]}"], FRONT, 80),
        None,
        "rules: [{{}}] allows all"
    );
    assert_eq!(sure(&[], FRONT, 80), None, "no policy");
}

#[test]
fn fields_the_source_cannot_know_leave_the_decision_to_the_destination() {
    for unsettled in [
        "{action: DENY, rules: [{from: [{source: {namespaces: [front], ipBlocks: [10.0.0.0/8]}}]}]}",
        "{action: DENY, rules: [{from: [{source: {remoteIpBlocks: [10.0.0.0/8]}}]}]}",
        "{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}",
        "{action: DENY, rules: [{when: [{key: 'request.headers[x-user]', values: [a]}]}]}",
        "{action: DENY, rules: [{when: [{key: source.ip, values: [10.244.2.7]}]}]}",
        "{rules: [{to: [{operation: {paths: [/public]}}]}]}",
        "{rules: [{from: [{source: {requestPrincipals: ['*']}}]}]}",
        "{rules: [{from: [{source: {ipBlocks: [192.168.0.0/16]}}]}]}",
        "{rules: [{when: [{key: connection.sni, values: [x]}]}]}",
    ] {
        assert_eq!(sure(&[unsettled], FRONT, 80), None, "{unsettled}");
    }
}

#[test]
fn an_unsettled_field_beside_a_settled_mismatch_still_cannot_match() {
    // ALLOW GET from namespace back only: front can never match, whatever its requests.
    let allow =
        "{rules: [{from: [{source: {namespaces: [back]}}], to: [{operation: {methods: [GET]}}]}]}";
    assert!(sure(&[allow], FRONT, 80).is_some());
    let when = "{rules: [{when: [{key: source.namespace, values: [back]}, {key: 'request.headers[x]', values: [a]}]}]}";
    assert!(sure(&[when], FRONT, 80).is_some());
    let port = "{rules: [{to: [{operation: {ports: ['8080'], paths: [/x]}}]}]}";
    assert!(sure(&[port], FRONT, 80).is_some());
    assert_eq!(sure(&[port], FRONT, 8080), None);
}

#[test]
fn dry_run_and_audit_policies_never_deny_for_sure() {
    let deny = "{action: DENY, rules: [{from: [{source: {namespaces: [front]}}]}]}";
    assert_eq!(sure(&[&format!("dry-run {deny}")], FRONT, 80), None);
    let audit = "{action: AUDIT, rules: [{}]}";
    assert_eq!(sure(&[audit], FRONT, 80), None);
    let allow = "{rules: [{from: [{source: {namespaces: [front]}}]}]}";
    assert_eq!(
        sure(&[allow, deny], FRONT, 80).unwrap().rule,
        rule("p1", 0),
        "DENY over ALLOW"
    );
}

#[test]
fn no_identity_matches_no_identity_rule() {
    let allow = "{rules: [{from: [{source: {principals: ['*']}}]}]}";
    assert!(
        sure(&[allow], None, 80).is_some(),
        "plain text: no principal"
    );
    let deny = "{action: DENY, rules: [{from: [{source: {notNamespaces: [back]}}]}]}";
    assert!(sure(&[deny], FRONT, 80).is_some());
}
