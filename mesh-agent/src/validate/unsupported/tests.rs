use serde_json::{json, Value};

use super::*;
use crate::document::parse_documents;

fn raw(yaml: &str) -> RawResource {
    parse_documents(std::path::Path::new("t.yaml"), yaml)
        .unwrap()
        .remove(0)
}

/// (field label, where) of every finding in `yaml`.
fn found(yaml: &str) -> Vec<(String, String)> {
    find(&raw(yaml))
        .into_iter()
        .map(|f| (f.field, f.at))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, a)| (f.to_string(), a.to_string()))
        .collect()
}

/// A document of `kind` setting `path` (every list holding one item) to `value`.
fn document_setting(kind: &str, path: &str, value: Value) -> RawResource {
    let mut node = value;
    for segment in path.split('.').rev() {
        node = match segment.strip_suffix("[*]") {
            Some(name) => json!({ name: [node] }),
            None => json!({ segment: node }),
        };
    }
    let group = match kind {
        "Telemetry" => "telemetry.istio.io",
        "AuthorizationPolicy" | "PeerAuthentication" | "RequestAuthentication" => {
            "security.istio.io"
        }
        _ => "networking.istio.io",
    };
    let mut body = node;
    body["apiVersion"] = json!(format!("{group}/v1"));
    body["kind"] = json!(kind);
    body["metadata"] = json!({"name": "x", "namespace": "shop"});
    raw(&serde_yaml::to_string(&body).unwrap())
}

#[test]
fn every_listed_field_is_found_where_it_is_set_inside_lists_too() {
    for field in unsupported_fields() {
        let value = match field.values {
            Values::Any => json!({"x": 1}),
            Values::OneOf(values) => json!(values[0]),
            Values::Except(_) => json!("SOMETHING_ELSE"),
        };
        let raw = document_setting(field.kind, &field.path, value);
        let at = field.path.replace("[*]", "[0]");
        let findings = find(&raw);
        assert!(
            findings.iter().any(|f| f.field == field.path && f.at == at),
            "{} {}: {findings:?}",
            field.kind,
            field.path
        );
        assert!(!field.why.is_empty());
    }
}

#[test]
fn a_tutorial_destination_rule_names_each_occurrence() {
    let yaml = "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\n\
                metadata: {name: reviews}\nspec:\n  host: reviews\n\
                \x20 trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, loadBalancer: {simple: RANDOM}}\n\
                \x20 subsets:\n  - {name: v1, labels: {version: v1}}\n\
                \x20 - name: v2\n    labels: {version: v2}\n\
                \x20   trafficPolicy: {tls: {mode: SIMPLE}, loadBalancer: {localityLbSetting: {failoverPriority: [a]}}}\n";
    assert_eq!(
        found(yaml),
        pairs(&[
            (
                "spec.subsets[*].trafficPolicy.loadBalancer.localityLbSetting.failoverPriority",
                "spec.subsets[1].trafficPolicy.loadBalancer.localityLbSetting.failoverPriority"
            ),
            ("spec.trafficPolicy.tls.mode", "spec.trafficPolicy.tls.mode"),
        ])
    );
}

#[test]
fn cors_in_several_routes_and_protobuf_names_are_found() {
    let yaml = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n\
                spec:\n  hosts: [r]\n  http:\n  - corsPolicy: {allowOrigins: [{exact: a}]}\n\
                \x20 - route: [{destination: {host: r}}]\n  - cors_policy: {allowMethods: [GET]}\n";
    assert_eq!(
        found(yaml),
        pairs(&[
            ("spec.http[*].corsPolicy", "spec.http[0].corsPolicy"),
            ("spec.http[*].corsPolicy", "spec.http[2].cors_policy"),
        ])
    );
}

#[test]
fn fields_the_mesh_acts_on_and_nulls_are_not_reported() {
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n\
              spec:\n  hosts: [r]\n  http:\n  - corsPolicy: null\n    timeout: 2s\n\
              \x20   retries: {attempts: 3, retryOn: 5xx}\n    route: [{destination: {host: r}}]\n";
    let gateway = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\n\
                   spec:\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n\
                   \x20   tls: {mode: SIMPLE, credentialName: cert}\n    hosts: ['*']\n";
    assert_eq!(found(vs), vec![]);
    assert_eq!(found(gateway), vec![]);
}

#[test]
fn gateway_tls_modes_not_served_are_found_by_value() {
    let yaml = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\n\
                spec:\n  servers:\n  - port: {number: 443, name: tls, protocol: TLS}\n\
                \x20   tls: {mode: PASSTHROUGH}\n    hosts: ['*']\n";
    assert_eq!(
        found(yaml),
        pairs(&[
            ("spec.servers[*].tls.mode", "spec.servers[0].tls.mode"),
            (
                "spec.servers[*].port.protocol",
                "spec.servers[0].port.protocol"
            ),
        ])
    );
}

#[test]
fn kinds_not_read_are_found_whatever_their_group_and_kubernetes_own_kinds_are_not() {
    let kind = |api: &str, kind: &str| {
        let yaml = format!("apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}\n");
        find(&raw(&yaml))
            .into_iter()
            .map(|f| (f.kind, f.field, f.at))
            .collect::<Vec<_>>()
    };
    for (api, name) in [
        ("authentication.istio.io/v1alpha1", "Policy"),
        ("networking.istio.io/v1beta1", "ProxyConfig"),
        ("networking.istio.io/v1", "WorkloadEntry"),
        ("extensions.istio.io/v1alpha1", "WasmPlugin"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1", "Gateway"),
        ("networking.k8s.io/v1", "Ingress"),
        ("example.com/v1", "Widget"),
    ] {
        let group = api.rsplit_once('/').unwrap().0;
        let expected = (
            format!("{group}/{name}"),
            "*".to_string(),
            "kind".to_string(),
        );
        assert_eq!(kind(api, name), vec![expected], "{api} {name}");
    }
    for (api, name) in [("apps/v1", "Deployment"), ("v1", "ServiceAccount")] {
        assert_eq!(kind(api, name), vec![], "{api} {name}");
    }
    assert_eq!(kind("networking.k8s.io/v1", "NetworkPolicy"), vec![]);
}

#[test]
fn the_legacy_policy_is_reported_deprecated_not_ignored() {
    let yaml = "apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\n\
                metadata: {name: jwt-example, namespace: foo}\n\
                spec:\n  targets: [{name: httpbin}]\n  origins: [{jwt: {issuer: x}}]\n";
    let warnings: Vec<String> = unsupported_warnings(&raw(yaml))
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with(
            "t.yaml:2:1: Policy/foo/jwt-example: kind: warning: kind authentication.istio.io/Policy \
             is deprecated: removed in Istio 1.6; applied as the PeerAuthentication"
        ),
        "{warnings:?}"
    );
}

#[test]
fn peer_authentication_is_enforced_and_only_disable_is_reported() {
    let policy = |mode: &str| {
        format!(
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: p}}\n\
             spec: {{mtls: {{mode: {mode}}}}}\n"
        )
    };
    for mode in ["STRICT", "PERMISSIVE", "UNSET"] {
        assert_eq!(found(&policy(mode)), pairs(&[]), "{mode}");
    }
    let disable = pairs(&[("spec.mtls.mode", "spec.mtls.mode")]);
    assert_eq!(found(&policy("DISABLE")), disable);
}

#[test]
fn mesh_config_settings_not_acted_on_are_found_and_the_others_are_not() {
    let mesh = "accessLogFile: /dev/stdout\nenableTracing: true\n\
                defaultConfig:\n  discoveryAddress: istiod:15012\n  tracing: {sampling: 10}\n\
                extensionProviders:\n- name: otel\n  opentelemetry: {service: otel.o, port: 4317}\n\
                - name: zipkin\n  zipkin: {service: zipkin.istio-system, port: 9411}\n";
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": mesh}});
    let findings = find(&raw(&serde_yaml::to_string(&body).unwrap()));
    let seen: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| (f.kind.as_str(), f.field.as_str(), f.at.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "MeshConfig",
                "defaultConfig.discoveryAddress",
                "data.mesh.defaultConfig.discoveryAddress"
            ),
            (
                "MeshConfig",
                "extensionProviders[*].zipkin",
                "data.mesh.extensionProviders[1].zipkin"
            ),
        ]
    );
    assert!(findings[1].why.contains("opentelemetry"));
}

#[test]
fn snake_case_is_the_protobuf_spelling() {
    assert_eq!(detect::snake_case("corsPolicy"), "cors_policy");
    assert_eq!(detect::snake_case("http2Error"), "http2_error");
    assert_eq!(detect::snake_case("tls"), "tls");
}

#[test]
fn request_authentication_is_enforced_and_only_targets_other_than_services_are_reported() {
    let policy = |kind: &str| {
        format!(
            "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{name: p}}\n\
             spec: {{targetRefs: [{{kind: {kind}, name: web}}], jwtRules: [{{issuer: i}}]}}\n"
        )
    };
    assert_eq!(found(&policy("Service")), pairs(&[]));
    let gateway = pairs(&[("spec.targetRefs[*].kind", "spec.targetRefs[0].kind")]);
    assert_eq!(found(&policy("Gateway")), gateway);
}
