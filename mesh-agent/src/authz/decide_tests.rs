//! The order of evaluation (DENY → ALLOW), empty specs and rules, dry runs, AUDIT, and
//! opaque TCP against rules naming HTTP fields.

use std::net::SocketAddr;

use hyper::HeaderMap;

use super::*;
use crate::authz::{snapshot_of, HttpFacts};

/// Policies of namespace `shop` named p0, p1, ... from their specs (and annotations).
fn policies(specs: &[&str]) -> crate::snapshot::Snapshot {
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
    let checker = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n\
                   data:\n  mesh: 'extensionProviders: [{name: checker, envoyExtAuthzGrpc: {service: c.shop, port: 9191}}]'\n";
    snapshot_of(&(docs.join("---\n") + "---\n" + checker))
}

fn decide_on(specs: &[&str], http: Option<(&str, &str)>) -> Decision {
    on(specs, http, decide)
}

/// `f` on the policies of `specs` and a request (`http`) from 10.244.2.7 (or a connection).
fn on<T>(
    specs: &[&str],
    http: Option<(&str, &str)>,
    f: impl FnOnce(&[&AuthzPolicy], &AuthzFacts) -> T,
) -> T {
    let snapshot = policies(specs);
    let list: Vec<&AuthzPolicy> = snapshot
        .authz_policies("shop")
        .iter()
        .map(AsRef::as_ref)
        .collect();
    let headers = HeaderMap::new();
    let facts = AuthzFacts {
        peer: None,
        source_ip: "10.244.2.7".parse().unwrap(),
        remote_ip: "10.244.2.7".parse().unwrap(),
        destination: "10.244.1.5:8080".parse::<SocketAddr>().unwrap(),
        sni: None,
        http: http.map(|(method, path)| HttpFacts {
            method,
            host: "web.shop",
            path,
            headers: &headers,
            auth: None,
        }),
    };
    f(&list, &facts)
}

fn id(policy: &str, rule: usize) -> Option<RuleId> {
    Some(RuleId {
        namespace: "shop".into(),
        policy: policy.into(),
        rule,
    })
}

const GET: Option<(&str, &str)> = Some(("GET", "/public"));
const POST: Option<(&str, &str)> = Some(("POST", "/public"));

#[test]
fn deny_wins_then_allow_then_default() {
    let allow_get = "{rules: [{to: [{operation: {methods: [GET]}}]}]}";
    let deny_post = "{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}";
    let deny_all = "{action: DENY, rules: [{}]}";
    let cases: [(&[&str], _, bool, Option<RuleId>); 7] = [
        (&[], GET, true, None),
        (&[allow_get], GET, true, id("p0", 0)),
        (&[allow_get], POST, false, None),
        (&[allow_get, deny_post], POST, false, id("p1", 0)),
        (&[allow_get, deny_all], GET, false, id("p1", 0)),
        (&["{}"], GET, false, None),
        (&["{rules: [{}]}"], POST, true, id("p0", 0)),
    ];
    for (specs, request, allowed, rule) in cases {
        let decision = decide_on(specs, request);
        assert_eq!(
            (decision.allowed, decision.rule),
            (allowed, rule),
            "{specs:?} {request:?}"
        );
    }
}

#[test]
fn only_deny_policies_allow_what_they_do_not_match() {
    let deny_post = "{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}";
    assert!(decide_on(&[deny_post], GET).allowed);
    assert_eq!(
        decide_on(&[deny_post], POST).details().as_deref(),
        Some("rbac_access_denied_matched_policy[ns[shop]-policy[p0]-rule[0]]")
    );
}

#[test]
fn dry_run_policies_report_and_never_decide() {
    let deny_get = "dry-run {action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}";
    let allow_post = "dry-run {rules: [{to: [{operation: {methods: [POST]}}]}]}";
    let decision = decide_on(&[deny_get, allow_post], GET);
    assert!(decision.allowed);
    assert_eq!(decision.rule, None);
    let want = [
        DryRun {
            action: AuthzAction::Deny,
            allowed: false,
            rule: id("p0", 0),
        },
        DryRun {
            action: AuthzAction::Allow,
            allowed: false,
            rule: None,
        },
    ];
    assert_eq!(decision.dry_run, want);
    assert!(decide_on(&[], GET).dry_run.is_empty());
}

#[test]
fn audit_matches_are_noted_and_do_not_decide() {
    let audit = "{action: AUDIT, rules: [{to: [{operation: {paths: ['/pub*']}}]}]}";
    let decision = decide_on(&[audit], GET);
    assert_eq!((decision.allowed, decision.audited), (true, id("p0", 0)));
    assert_eq!(decide_on(&[audit], Some(("GET", "/x"))).audited, None);
}

#[test]
fn tcp_ignores_allow_rules_with_http_fields_and_http_fields_of_deny_rules() {
    let allow_get = "{rules: [{to: [{operation: {methods: [GET]}}]}]}";
    let allow_port_and_get = "{rules: [{to: [{operation: {ports: ['8080'], methods: [GET]}}]}]}";
    let allow_port = "{rules: [{to: [{operation: {ports: ['8080']}}]}]}";
    let deny_get = "{action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}";
    let deny_other_port_get =
        "{action: DENY, rules: [{to: [{operation: {ports: ['9090'], methods: [GET]}}]}]}";
    let cases: [(&str, bool); 5] = [
        (allow_get, false),
        (allow_port_and_get, false),
        (allow_port, true),
        (deny_get, false),
        (deny_other_port_get, true),
    ];
    for (spec, allowed) in cases {
        assert_eq!(decide_on(&[spec], None).allowed, allowed, "{spec}");
    }
}

#[test]
fn a_matching_enforced_custom_rule_names_its_provider() {
    let custom = "{action: CUSTOM, provider: {name: checker}, rules: [{to: [{operation: {methods: [POST]}}]}]}";
    let dry = "dry-run {action: CUSTOM, provider: {name: checker}, rules: [{}]}";
    let deny_all = "{action: DENY, rules: [{}]}";
    let asked = on(&[custom, deny_all], POST, custom_check);
    let want = CustomCheck {
        provider: "checker".into(),
        rule: id("p0", 0).unwrap(),
    };
    assert_eq!(asked, Some(want));
    assert_eq!(on(&[custom, deny_all], GET, custom_check), None);
    assert_eq!(on(&[dry], GET, custom_check), None);
    let decided = decide_on(&[custom], POST);
    assert!(decided.allowed, "CUSTOM never decides among DENY and ALLOW");
}
