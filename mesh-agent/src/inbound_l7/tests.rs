//! Each kind of inbound policy flips the decision; identity-only policies and other workloads'
//! policies leave the pod's streams to L4.

use std::net::IpAddr;

use super::*;
use crate::authz::snapshot_of;

/// `productpage-0` (meshed, behind a Service) in `default` and the documents of `extra`.
fn decide(extra: &str) -> Option<L7Need> {
    let base = "apiVersion: v1\nkind: Pod\n\
                metadata: {name: productpage-0, namespace: default, labels: {app: productpage}}\n\
                status: {podIP: 10.244.1.5}\n";
    let yaml = if extra.is_empty() {
        base.to_string()
    } else {
        format!("{base}---\n{extra}")
    };
    let snapshot = snapshot_of(&yaml);
    let ip: IpAddr = "10.244.1.5".parse().unwrap();
    let workload = snapshot.workload(ip).unwrap().clone();
    needs_l7(&snapshot, &workload, ip)
}

fn policy(name: &str, spec: &str) -> String {
    policy_annotated(name, "", spec)
}

fn policy_annotated(name: &str, annotations: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
         metadata: {{name: {name}, namespace: default{annotations}}}\nspec: {spec}\n"
    )
}

fn mesh(text: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio, namespace: istio-system}}\n\
         data:\n  mesh: '{text}'\n"
    )
}

#[test]
fn without_inbound_policy_the_pod_needs_no_l7() {
    assert_eq!(decide(""), None);
}

#[test]
fn identity_and_port_rules_stay_at_l4() {
    let spec = "{action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/sleep], \
                namespaces: [default], ipBlocks: [10.0.0.0/8]}}], to: [{operation: {ports: ['9080']}}], \
                when: [{key: source.namespace, values: [default]}]}]}";
    assert_eq!(decide(&policy("by-identity", spec)), None);
    let deny = "{action: DENY, rules: [{from: [{source: {notNamespaces: [default]}}]}]}";
    assert_eq!(decide(&policy("others", deny)), None);
}

#[test]
fn each_http_field_of_a_rule_needs_l7() {
    for field in [
        "to: [{operation: {paths: [/admin]}}]",
        "to: [{operation: {methods: [POST]}}]",
        "to: [{operation: {hosts: [shop.example]}}]",
        "to: [{operation: {notPaths: [/health]}}]",
        "from: [{source: {requestPrincipals: ['*']}}]",
        "when: [{key: 'request.headers[x-user]', values: [alice]}]",
        "when: [{key: 'request.auth.claims[group]', values: [admin]}]",
    ] {
        let spec = format!("{{action: DENY, rules: [{{{field}}}]}}");
        let found = decide(&policy("http", &spec));
        assert_eq!(
            found,
            Some(L7Need::HttpRule("default/http".into())),
            "{field}"
        );
    }
}

#[test]
fn custom_audit_and_dry_run_policies_are_per_request() {
    let checker = mesh("extensionProviders: [{name: checker, envoyExtAuthzGrpc: {service: c.default, port: 9191}}]");
    let custom = "{action: CUSTOM, provider: {name: checker}, rules: [{}]}";
    let audit = "{action: AUDIT, rules: [{}]}";
    let deny = "{action: DENY, rules: [{from: [{source: {namespaces: [bank]}}]}]}";
    let dry_run = policy_annotated("dry", ", annotations: {istio.io/dry-run: 'true'}", deny);
    for (documents, name) in [
        (policy("custom", custom) + "---\n" + &checker, "custom"),
        (policy("audit", audit), "audit"),
        (dry_run, "dry"),
    ] {
        let wanted = Some(L7Need::PerRequestPolicy(format!("default/{name}")));
        assert_eq!(decide(&documents), wanted, "{name}");
    }
}

#[test]
fn another_workload_s_http_policy_does_not_count() {
    let spec =
        "{selector: {matchLabels: {app: reviews}}, rules: [{to: [{operation: {paths: [/x]}}]}]}";
    assert_eq!(decide(&policy("reviews-only", spec)), None);
}

#[test]
fn a_request_authentication_needs_l7() {
    let jwt = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n\
               metadata: {name: tokens, namespace: default}\n\
               spec: {jwtRules: [{issuer: mesh, jwks: '{\"keys\": []}'}]}\n";
    assert_eq!(decide(jwt), Some(L7Need::RequestAuthentication));
}

#[test]
fn an_inbound_rate_limit_needs_l7_an_outbound_one_does_not() {
    let task = include_str!("../../tests/data/config/rate_limit/istio-task.yaml");
    assert_eq!(decide(task), Some(L7Need::InboundRateLimit));
    let outbound = task.replace("SIDECAR_INBOUND", "SIDECAR_OUTBOUND");
    assert_eq!(decide(&outbound), None);
}

#[test]
fn the_pod_s_own_request_cap_needs_l7() {
    let capped = "apiVersion: v1\nkind: Pod\n\
                  metadata: {name: productpage-0, namespace: default, labels: {app: productpage}, \
                  annotations: {mesh.io/max-requests-in-flight: '5'}}\nstatus: {podIP: 10.244.1.5}\n";
    let snapshot = snapshot_of(capped);
    let ip: IpAddr = "10.244.1.5".parse().unwrap();
    let workload = snapshot.workload(ip).unwrap().clone();
    assert_eq!(needs_l7(&snapshot, &workload, ip), Some(L7Need::RequestCap));
}

#[test]
fn destination_access_logs_and_tracing_need_l7() {
    assert_eq!(
        decide(&mesh("accessLogFile: /dev/stdout")),
        Some(L7Need::AccessLog)
    );
    let tracing =
        "extensionProviders: [{name: otel, opentelemetry: {service: otel.o, port: 4317}}]";
    assert_eq!(decide(&mesh(tracing)), Some(L7Need::Tracing));
    let off = format!("{{enableTracing: false, {tracing}}}");
    assert_eq!(decide(&mesh(&off)), None);
}
