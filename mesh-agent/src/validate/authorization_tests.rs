//! Each AuthorizationPolicy rule with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn found(yaml: &str) -> Vec<String> {
    let mut found = Findings::default();
    authorization_policy(&mut found, &spec(yaml));
    lines(&found)
}

#[test]
fn tutorial_policies_pass() {
    for good in [
        "{}",
        "selector: {matchLabels: {app: web}}\naction: ALLOW\nrules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}], to: [{operation: {methods: [GET], paths: ['/api/{*}']}}]}]\n",
        "action: DENY\nrules: [{}]\n",
        "action: DENY\nrules: [{to: [{operation: {ports: ['8080'], paths: [/admin]}}], when: [{key: 'request.headers[x-token]', notValues: [secret]}]}]\n",
        "action: CUSTOM\nprovider: {name: ext-authz}\nrules: [{to: [{operation: {paths: [/admin]}}]}]\n",
        "targetRef: {kind: Service, name: web}\nrules: [{when: [{key: source.ip, values: [10.0.0.0/8]}]}]\n",
    ] {
        assert_eq!(found(good), Vec::<String>::new(), "{good}");
    }
}

#[test]
fn actions_providers_and_rules() {
    let cases = [
        ("action: DENY\nrules: []\n", vec!["spec.rules: DENY without rules never applies; add an empty rule `{}` to match every request"]),
        ("action: CUSTOM\nrules: [{}]\n", vec!["spec.provider.name: a CUSTOM policy needs provider.name"]),
        ("action: ALLOW\nprovider: {name: x}\n", vec!["spec.provider: provider is only for action CUSTOM, not ALLOW"]),
        ("action: CUSTOM\nprovider: {name: x}\nrules: [{from: [{source: {namespaces: [shop]}}], when: [{key: request.auth.principal, values: [a]}]}]\n", vec![
            "spec.rules[0].from[0].source.namespaces: namespaces is not supported with action CUSTOM",
            "spec.rules[0].when[0].key: request.auth.principal is not supported with action CUSTOM",
        ]),
        ("action: DENY\nrules: [{to: [{operation: {methods: [POST]}}]}]\n", vec![
            "spec.rules[0]: warning: this DENY rule uses only HTTP attributes: it denies all traffic to TCP ports in scope; name the ports",
        ]),
        ("action: DENY\nrules: [{when: [{key: 'request.headers[x-a]', values: [b]}]}, {from: [{source: {requestPrincipals: ['*']}}]}]\n", vec![
            "spec.rules[0]: warning: this DENY rule uses only HTTP attributes: it denies all traffic to TCP ports in scope; name the ports",
            "spec.rules[1]: warning: this DENY rule uses only HTTP attributes: it denies all traffic to TCP ports in scope; name the ports",
        ]),
        ("action: DENY\nrules: [{from: [{source: {namespaces: [bank]}}], to: [{operation: {methods: [POST]}}]}, {when: [{key: source.ip, values: [10.0.0.1]}, {key: 'request.headers[x]', values: [y]}]}]\n", vec![]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml), want, "{yaml}");
    }
}

#[test]
fn sources_operations_and_conditions_say_something() {
    let yaml = "rules:\n- from: [{source: {}}, {}]\n  to: [{operation: {}}]\n\
                - from: [{source: {principals: [''], ipBlocks: [10.0.0.0/40]}}]\n  to: [{operation: {ports: [http], paths: ['/{**}/a/{*}']}}]\n\
                \x20 when: [{key: ''}, {key: source.namespace}, {key: destination.namespace, values: [shop]}]\n";
    assert_eq!(
        found(yaml),
        [
            "spec.rules[0].from[0].source: from.source must not be empty: name principals, namespaces or IP blocks",
            "spec.rules[0].from[1].source: from.source must not be empty: name principals, namespaces or IP blocks",
            "spec.rules[0].to[0].operation: to.operation must not be empty: name hosts, ports, methods or paths",
            "spec.rules[1].from[0].source.principals[0]: empty value not allowed",
            "spec.rules[1].from[0].source.ipBlocks[0]: bad CIDR range (10.0.0.0/40)",
            "spec.rules[1].to[0].operation.ports[0]: bad port (http)",
            "spec.rules[1].to[0].operation.paths[0]: invalid path \"/{**}/a/{*}\": {**} must be the last operator",
            "spec.rules[1].when[0].key: key must not be empty",
            "spec.rules[1].when[1]: set values or notValues for key source.namespace",
            "spec.rules[1].when[2].key: destination.namespace is replaced by the policy's namespace (metadata.namespace)",
        ]
    );
}
