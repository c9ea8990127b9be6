//! Reading documents strictly: unknown fields, protobuf field names, user-data map keys, and
//! where each problem points.

use std::path::Path;

use super::proto_names::{json_names, MESH_CONFIG_MAPS};
use super::{parse, Resource};
use crate::document::{parse_documents, Origin, Problem, RawResource};

fn read(yaml: &str) -> RawResource {
    parse_documents(Path::new("f.yaml"), yaml)
        .unwrap()
        .remove(0)
}

fn resource(yaml: &str) -> Resource {
    parse(&read(yaml)).unwrap().resource.unwrap()
}

fn refused(yaml: &str) -> String {
    parse(&read(yaml)).unwrap_err().to_string()
}

const VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n";

#[test]
fn an_unknown_field_rejects_the_document_at_its_line_and_column() {
    let typo =
        format!("{VS}  http:\n  - route: [{{destination: {{host: web}}}}]\n    timout: 2s\n");
    assert_eq!(
        refused(&typo),
        "f.yaml:8:5: VirtualService/default/web: spec.http[0].timout: unknown field (a typo?)"
    );
}

#[test]
fn an_unknown_field_of_a_cluster_object_is_a_warning() {
    let mut raw = read(&format!("{VS}  exportToo: [.]\n"));
    raw.origin = Origin::Cluster {
        resource_version: "7".into(),
    };
    let parsed = parse(&raw).unwrap();
    assert!(parsed.resource.is_some());
    let warnings: Vec<String> = parsed.warnings.iter().map(Problem::to_string).collect();
    assert_eq!(
        warnings,
        ["cluster (resourceVersion 7): VirtualService/default/web: spec.exportToo: warning: unknown field, ignored (newer than the mesh?)"]
    );
}

#[test]
fn protobuf_field_names_read_as_their_json_names() {
    let snake = "  tls:\n  - match: [{sni_hosts: [a.example], destination_subnets: [10.0.0.0/8]}]\n    route: [{destination: {host: a.example}}]\n  http:\n  - retries: {attempts: 2, retry_on: 5xx, per_try_timeout: 1s}\n    route: [{destination: {host: web}}]\n";
    let camel = snake
        .replace("sni_hosts", "sniHosts")
        .replace("destination_subnets", "destinationSubnets")
        .replace("retry_on", "retryOn")
        .replace("per_try_timeout", "perTryTimeout");
    assert_eq!(
        resource(&(VS.to_string() + snake)),
        resource(&(VS.to_string() + &camel))
    );
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web}\nspec:\n  host: web\n  traffic_policy:\n    connection_pool:\n      http: {max_requests_per_connection: 1, http1_max_pending_requests: 2}\n    outlier_detection: {consecutive_5xx_errors: 3}\n";
    let json = rule
        .replace("traffic_policy", "trafficPolicy")
        .replace("connection_pool", "connectionPool")
        .replace("max_requests_per_connection", "maxRequestsPerConnection")
        .replace("http1_max_pending_requests", "http1MaxPendingRequests")
        .replace("outlier_detection", "outlierDetection")
        .replace("consecutive_5xx_errors", "consecutive5xxErrors");
    assert_eq!(resource(rule), resource(&json));
}

#[test]
fn a_field_in_both_spellings_is_an_error_at_the_field() {
    let both = format!("{VS}  tls:\n  - match:\n    - sniHosts: [a]\n      sni_hosts: [b]\n");
    assert_eq!(
        refused(&both),
        "f.yaml:9:7: VirtualService/default/web: spec.tls[0].match[0].sniHosts: one field written \
         twice, as sniHosts and as sni_hosts: keep one"
    );
}

#[test]
fn keys_that_are_user_data_stay_as_written() {
    let vs = format!("{VS}  http:\n  - match:\n    - headers: {{x_user: {{exact: a}}}}\n      query_params: {{page_id: {{exact: '1'}}}}\n      source_labels: {{app_tier: web}}\n    headers:\n      request: {{set: {{x_trace_id: t}}, add: {{x_add_me: a}}}}\n    route:\n    - destination: {{host: web}}\n      headers: {{response: {{set: {{x_served_by: web}}}}}}\n");
    let seen = serde_json::to_string(&resource(&vs)).unwrap();
    for key in [
        "x_user",
        "page_id",
        "app_tier",
        "x_trace_id",
        "x_add_me",
        "x_served_by",
    ] {
        assert!(
            seen.contains(&format!("\"{key}\"")),
            "{key} renamed: {seen}"
        );
    }
    let others = [
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  selector: {istio_gw: ingress}\n",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: web\n  subsets: [{name: v1, labels: {app_version: v1}}]\n  workload_selector: {match_labels: {app_name: web}}\n",
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [a.example]\n  endpoints: [{address: 1.2.3.4, ports: {http_alt: 8080}, labels: {app_zone: a}}]\n",
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  selector: {match_labels: {app_name: web}}\n",
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  tracing: [{custom_tags: {my_tag: {literal: {value: v}}}}]\n  metrics: [{overrides: [{tag_overrides: {request_protocol: {operation: REMOVE}}}]}]\n",
    ];
    let kept = [
        "istio_gw",
        "app_version",
        "app_name",
        "http_alt",
        "app_zone",
        "my_tag",
        "request_protocol",
    ];
    let seen: String = others
        .iter()
        .map(|d| serde_json::to_string(&resource(d)).unwrap())
        .collect();
    for key in kept {
        assert!(
            seen.contains(&format!("\"{key}\"")),
            "{key} renamed: {seen}"
        );
    }
    assert!(
        seen.contains("\"workloadSelector\":{\"matchLabels\":{\"app_name\""),
        "{seen}"
    );
}

#[test]
fn metadata_is_never_renamed() {
    let vs = VS.replace(
        "{name: web}",
        "{name: web, labels: {app_tier: web}, annotations: {x_y: z}}",
    );
    let Resource::VirtualService(vs) = resource(&vs) else {
        panic!("a VirtualService")
    };
    assert!(vs.metadata.labels.unwrap().contains_key("app_tier"));
    assert!(vs.metadata.annotations.unwrap().contains_key("x_y"));
}

#[test]
fn mesh_config_reads_protobuf_names_and_keeps_its_maps() {
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    access_log_file: /dev/stdout\n    outbound_traffic_policy: {mode: REGISTRY_ONLY}\n    default_config: {proxy_metadata: {ISTIO_META_DNS_CAPTURE: 'true'}}\n";
    let Resource::MeshConfig(mesh) = resource(config) else {
        panic!("a MeshConfig")
    };
    let camel = config
        .replace("access_log_file", "accessLogFile")
        .replace("outbound_traffic_policy", "outboundTrafficPolicy");
    let Resource::MeshConfig(json) = resource(&camel) else {
        panic!("a MeshConfig")
    };
    assert_eq!(mesh, json);
    assert_eq!(mesh.access_log_file, "/dev/stdout");
    let value: serde_json::Value = serde_yaml::from_str(config).unwrap();
    let value: serde_json::Value =
        serde_yaml::from_str(value["data"]["mesh"].as_str().unwrap()).unwrap();
    let renamed = json_names(&value, "", &[MESH_CONFIG_MAPS]).unwrap();
    assert_eq!(
        renamed["defaultConfig"]["proxyMetadata"]["ISTIO_META_DNS_CAPTURE"],
        "true"
    );
}
