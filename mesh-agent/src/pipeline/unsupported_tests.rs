use prometheus_client::encoding::text::encode;

use super::*;
use crate::document::parse_documents;

const RULE: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                    metadata: {name: web, namespace: shop}\n\
                    spec: {host: web, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n";

fn set(yaml: &str) -> Vec<RawResource> {
    parse_documents(std::path::Path::new("t.yaml"), yaml).unwrap()
}

fn text(registry: &Registry) -> String {
    let mut out = String::new();
    encode(&mut out, registry).unwrap();
    out
}

const SERIES: &str =
    "mesh_config_unsupported_fields{kind=\"DestinationRule\",field=\"spec.trafficPolicy.tls.mode\"}";

#[test]
fn each_resource_version_is_logged_once() {
    let fields = UnsupportedFields::default();
    let first = fields.observe(&set(&format!("{SERVICE}---\n{RULE}")));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].field, "spec.trafficPolicy.tls.mode");
    assert_eq!(
        fields.observe(&set(&format!("{SERVICE}---\n{RULE}"))),
        vec![]
    );
    let changed = RULE.replace("ISTIO_MUTUAL", "istio_mutual");
    assert_eq!(
        fields
            .observe(&set(&format!("{SERVICE}---\n{changed}")))
            .len(),
        1
    );
    assert_eq!(
        fields.observe(&set(&format!("{SERVICE}---\n{changed}"))),
        vec![]
    );
}

#[test]
fn the_gauge_counts_resources_and_its_series_goes_with_the_last_one() {
    let mut registry = Registry::default();
    let fields = UnsupportedFields::register(&mut registry);
    let other = RULE.replace("name: web,", "name: api,");
    fields.observe(&set(&format!("{RULE}---\n{other}")));
    assert!(
        text(&registry).contains(&format!("{SERIES} 2\n")),
        "{}",
        text(&registry)
    );
    fields.observe(&set(RULE));
    assert!(
        text(&registry).contains(&format!("{SERIES} 1\n")),
        "{}",
        text(&registry)
    );
    fields.observe(&set(SERVICE));
    assert!(!text(&registry).contains(SERIES), "{}", text(&registry));
}

#[test]
fn a_resource_carrying_a_field_twice_counts_once() {
    let mut registry = Registry::default();
    let fields = UnsupportedFields::register(&mut registry);
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
              metadata: {name: r, namespace: shop}\n\
              spec: {hosts: [r], http: [{corsPolicy: {}}, {corsPolicy: {}}]}\n";
    assert_eq!(fields.observe(&set(vs)).len(), 2);
    let series = "{kind=\"VirtualService\",field=\"spec.http[*].corsPolicy\"} 1\n";
    assert!(text(&registry).contains(series), "{}", text(&registry));
}
