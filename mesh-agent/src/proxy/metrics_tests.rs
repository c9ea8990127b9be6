//! Label sets of both reporters, HTTP and TCP: principals from the registry, `unknown` for a
//! peer it does not hold; a side whose Telemetry switches metrics off records nothing.

use std::sync::Arc;

use prometheus_client::registry::Registry;

use super::*;
use crate::http::{HttpLabels, HttpMetrics, RequestOutcome};
use crate::snapshot::{spiffe_id, TelemetryPolicy};

fn workload(name: &str, namespace: &str, account: Option<&str>) -> Workload {
    Workload {
        name: name.into(),
        namespace: namespace.into(),
        pod_name: format!("{name}-0"),
        app: Some(name.into()),
        version: Some("v1".into()),
        service_account: account.map(Into::into),
        labels: Arc::default(),
        principal: Some(spiffe_id("cluster.local", namespace, account)),
        meshed: false,
        telemetry: TelemetryPolicy::default(),
        limits: Default::default(),
    }
}

fn text(registry: &Registry) -> String {
    crate::metrics::encode(registry).unwrap()
}

#[test]
fn a_principal_is_the_spiffe_id_of_the_pod_s_service_account() {
    assert_eq!(
        spiffe_id("cluster.local", "shop", Some("web")),
        "spiffe://cluster.local/ns/shop/sa/web"
    );
    assert_eq!(
        spiffe_id("example.org", "shop", None),
        "spiffe://example.org/ns/shop/sa/default"
    );
}

#[test]
fn tcp_labels_carry_both_principals_for_both_reporters_and_unknown_peers() {
    let mut registry = Registry::default();
    let metrics = TcpMetrics::register(&mut registry);
    let (web, db) = (
        workload("web", "shop", Some("web")),
        workload("db", "data", None),
    );
    for reporter in [Reporter::source, Reporter::destination] {
        drop(metrics.open(&TcpLabels::new(reporter, Some(&web), Some(&db), None)));
    }
    drop(metrics.open(&TcpLabels::new(
        Reporter::destination,
        None,
        Some(&db),
        None,
    )));
    let text = text(&registry);
    let opened: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("istio_tcp_connections_opened_total{"))
        .collect();
    assert_eq!(opened.len(), 3, "{text}");
    let known = opened.iter().filter(|l| {
        l.contains(r#"source_principal="spiffe://cluster.local/ns/shop/sa/web""#)
            && l.contains(r#"destination_principal="spiffe://cluster.local/ns/data/sa/default""#)
    });
    assert_eq!(known.count(), 2, "{text}");
    assert!(opened
        .iter()
        .any(|l| l.contains(r#"source_principal="unknown""#)));
    assert!(opened
        .iter()
        .all(|l| l.contains(r#"connection_security_policy="none""#)));
}

#[test]
fn http_labels_carry_both_principals() {
    let mut registry = Registry::default();
    let metrics = HttpMetrics::register(&mut registry);
    let (web, db) = (
        workload("web", "shop", Some("web")),
        workload("db", "data", None),
    );
    let outcome = RequestOutcome {
        protocol: "http",
        response_code: 200,
        grpc_status: None,
        response_flags: "-".into(),
    };
    let labels = HttpLabels::new(Reporter::source, Some(&web), Some(&db), None, &outcome);
    metrics.record(&labels, 1.0, 10, 10);
    let labels = HttpLabels::new(Reporter::destination, None, Some(&db), None, &outcome);
    metrics.record(&labels, 1.0, 10, 10);
    let text = text(&registry);
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
        .collect();
    assert!(requests.iter().any(|l| l.contains(r#"reporter="source""#)
        && l.contains(r#"source_principal="spiffe://cluster.local/ns/shop/sa/web""#)
        && l.contains(r#"destination_principal="spiffe://cluster.local/ns/data/sa/default""#)));
    assert!(requests
        .iter()
        .any(|l| l.contains(r#"reporter="destination""#)
            && l.contains(r#"source_principal="unknown""#)));
}

#[test]
fn a_side_whose_telemetry_is_off_records_no_tcp_metric() {
    let mut registry = Registry::default();
    let metrics = TcpMetrics::register(&mut registry);
    let mut quiet = workload("web", "shop", None);
    quiet.telemetry.client_metrics = false;
    let db = workload("db", "data", None);
    let off = TcpLabels::new(Reporter::source, Some(&quiet), Some(&db), None);
    assert!(!off.recorded());
    let on = TcpLabels::new(Reporter::destination, Some(&quiet), Some(&db), None);
    let connection = metrics.open_both(&off, &on);
    connection.sent.inc_by(5);
    drop(connection);
    let text = text(&registry);
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("istio_tcp_"))
        .collect();
    assert_eq!(series.len(), 4, "one series per metric: {text}");
    assert!(series
        .iter()
        .all(|l| l.contains(r#"reporter="destination""#)));
}
