//! The conversion of Istio 1.5's authentication policies, as the migration guide writes it.

use k8s_openapi::api::core::v1::Service;

use super::{convert, Converted};
use crate::resources::{AuthenticationPolicySpec, Istio};

const HTTPBIN: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: httpbin, namespace: foo}\n\
spec:\n  selector: {app: httpbin}\n  ports:\n  - {name: http, port: 8000, targetPort: 80}\n  - {name: admin, port: 9000, targetPort: admin}\n";

/// The tutorial's policy (Istio 1.5 "Authentication Policy" task), with `spec` appended.
fn policy(spec: &str) -> Istio<AuthenticationPolicySpec> {
    let yaml = format!("apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\nmetadata: {{name: jwt-example, namespace: foo}}\nspec:\n{spec}");
    serde_yaml::from_str(&yaml).expect("a Policy")
}

fn converted(spec: &str) -> Converted {
    let service: Service = serde_yaml::from_str(HTTPBIN).expect("a Service");
    let lookup = |name: &str| (name == "httpbin").then_some(&service);
    convert(&policy(spec), "foo", &lookup)
}

fn notes(converted: &Converted) -> Vec<&str> {
    converted
        .notes
        .0
        .iter()
        .map(|(field, _)| field.as_str())
        .collect()
}

const TUTORIAL: &str = "  targets: [{name: httpbin}]\n  peers: [{mtls: {}}]\n  origins:\n  - jwt:\n      issuer: testing@secure.istio.io\n      jwksUri: https://example.com/jwks.json\n      triggerRules: [{excludedPaths: [{exact: /health}]}]\n  principalBinding: USE_ORIGIN\n";

#[test]
fn the_tutorial_policy_is_peer_and_request_authentication_and_a_deny_without_token() {
    let out = converted(TUTORIAL);
    let expected = "\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: jwt-example
  namespace: foo
spec:
  mtls:
    mode: STRICT
  selector:
    matchLabels:
      app: httpbin
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: foo
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: https://example.com/jwks.json
  selector:
    matchLabels:
      app: httpbin
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: jwt-example-require-jwt
  namespace: foo
spec:
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals:
        - '*'
    to:
    - operation:
        notPaths:
        - /health
  selector:
    matchLabels:
      app: httpbin
";
    assert_eq!(out.yaml(), expected);
    assert_eq!(
        notes(&out),
        ["spec.principalBinding", "spec.origins[0].jwt.triggerRules"]
    );
}

#[test]
fn optional_origins_need_no_token_and_no_peers_disable_mtls() {
    let out = converted("  origins: [{jwt: {issuer: a, jwtHeaders: [x-token], jwtParams: [t]}}]\n  originIsOptional: true\n");
    assert!(out.authorization.is_empty());
    let mode = out.peer[0].spec.mtls.as_ref().and_then(|m| m.mode);
    assert_eq!(mode, Some(crate::resources::MtlsMode::Disable));
    assert_eq!(out.peer[0].spec.selector, None, "namespace-wide");
    let rule = &out.request[0].spec.jwt_rules[0];
    assert_eq!(rule.from_headers[0].name, "x-token");
    assert_eq!(rule.from_params, ["t"]);
}

#[test]
fn target_ports_become_workload_ports_and_trigger_rules_paths() {
    let spec = "  targets: [{name: httpbin, ports: [{number: 8000}, {name: admin}]}]\n  peers: [{mtls: {mode: PERMISSIVE}}]\n  origins:\n  - jwt:\n      issuer: a\n      triggerRules: [{includedPaths: [{prefix: /api/}, {suffix: .json}]}]\n";
    let out = converted(spec);
    let peer = &out.peer[0].spec;
    assert_eq!(peer.mtls, None);
    let ports: Vec<&String> = peer.port_level_mtls.keys().collect();
    assert_eq!(ports, ["80", "9000"]);
    let operation = &out.authorization[0].spec.rules[0].to[0].operation;
    assert_eq!(operation.ports, ["80", "9000"]);
    assert_eq!(operation.paths, ["/api/*", "*.json"]);
    assert_eq!(
        notes(&out),
        [
            "spec.targets[0].ports[1]",
            "spec.targets",
            "spec.origins[0].jwt.triggerRules"
        ]
    );
}

#[test]
fn what_has_no_equivalent_is_warned_about_never_dropped_silently() {
    let spec = "  targets: [{name: missing}, {name: httpbin}]\n  peers: [{mtls: {allowTls: true}}, {jwt: {issuer: p}}]\n  peerIsOptional: true\n  origins:\n  - jwt:\n      issuer: a\n      triggerRules: [{includedPaths: [{exact: /a}, {regex: '/b.*'}], excludedPaths: [{regex: '/c.*'}]}]\n";
    let out = converted(spec);
    assert_eq!(
        out.peer.len(),
        1,
        "the missing Service's target applies to nothing"
    );
    assert_eq!(
        out.peer[0].metadata.name.as_deref(),
        Some("jwt-example-httpbin")
    );
    let rule = &out.authorization[0].spec.rules[0];
    assert!(
        rule.to.is_empty(),
        "regexes: the token is required on every path"
    );
    assert_eq!(
        notes(&out),
        [
            "spec.targets[0].name",
            "spec.peers[0].mtls.allowTls",
            "spec.peers[1].jwt",
            "spec.peerIsOptional",
            "spec.origins[0].jwt.triggerRules",
            "spec.origins[0].jwt.triggerRules[0].includedPaths",
            "spec.origins[0].jwt.triggerRules[0].excludedPaths[0].regex"
        ]
    );
}
