//! `deploy/grafana/mesh-dashboard.json` parses, has the panels the tutorial looks at, and every
//! PromQL expression in it names only series the agent exports (read from a registry filled the
//! way the agent fills its own, one sample in every family) and only labels those series carry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use mesh_agent::bpf::FlowCount;
use mesh_agent::facts::Reporter;
use mesh_agent::flows::{self, PodIndex};
use mesh_agent::http::{HttpInputs, HttpLabels, RequestOutcome, DEFAULT_DETECT_WINDOW};
use mesh_agent::pipeline::ConfigState;
use mesh_agent::pods::EnrolledPod;
use mesh_agent::proxy::{TcpLabels, TcpMetrics};
use mesh_common::Counter;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// Labels Prometheus adds to every series it scrapes, and the histogram bucket bound.
const SCRAPE_LABELS: [&str; 3] = ["le", "instance", "job"];

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/mesh-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("the dashboard is JSON")
}

/// Each series a scrape of the agent shows, with its label names.
fn exported_series() -> BTreeMap<String, BTreeSet<String>> {
    let mut registry = Registry::default();
    let tcp = TcpMetrics::register(&mut registry);
    let _open = tcp.open(&TcpLabels::new(Reporter::source, None, None, None));
    let http = HttpInputs::register(&mut registry, DEFAULT_DETECT_WINDOW);
    let outcome = RequestOutcome {
        protocol: "http",
        response_code: 200,
        grpc_status: None,
        response_flags: "-".into(),
    };
    let labels = HttpLabels::new(Reporter::destination, None, None, None, &outcome);
    http.metrics.record(&labels, 1.0, 1, 1);
    let counters = Arc::new(|| Counter::ALL.iter().map(|c| (c.name(), 0)).collect());
    mesh_agent::metrics::register_ebpf_counters(&mut registry, counters);
    register_one_flow(&mut registry);
    let text = crate::harness::metrics::text(&registry);
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap().to_owned();
        let labels = line.split_once('{').map_or("", |(_, rest)| rest);
        let names = labels
            .split("\",")
            .filter_map(|kv| kv.split_once("=\""))
            .map(|(k, _)| k.to_owned());
        series.entry(name).or_default().extend(names);
    }
    series
}

/// `mesh_connections_by_pair_total` with one pair.
fn register_one_flow(registry: &mut Registry) {
    let pods = PodIndex::default();
    pods.replace(vec![EnrolledPod {
        namespace: "ns".into(),
        name: "pod".into(),
        uid: String::new(),
        ip: "10.0.0.2".parse().unwrap(),
        ips: vec!["10.0.0.2".parse().unwrap()],
        netns_cookie: 1,
    }]);
    let pair = FlowCount {
        netns_cookie: 1,
        destination: "10.0.0.1:80".parse().unwrap(),
        connections: 1,
    };
    let flows = Arc::new(move || vec![pair]);
    flows::register(registry, flows, pods, ConfigState::default());
}

/// Every string under a key `expr` or `definition`, anywhere in the document.
fn queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("expr" | "definition", Value::String(q)) => out.push(q.clone()),
                    _ => queries(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| queries(item, out)),
        _ => {}
    }
}

/// `query` without its quoted strings.
fn unquoted(query: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted => out.push(c),
            _ => {}
        }
    }
    out
}

fn identifiers(query: &str) -> Vec<String> {
    unquoted(query)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Labels named in `by (...)` and `{label=...}`.
fn labels(query: &str) -> Vec<String> {
    let text = unquoted(query);
    let mut found = Vec::new();
    for part in text.split("by (").skip(1) {
        let list = part.split(')').next().unwrap();
        found.extend(list.split(',').map(|l| l.trim().to_owned()));
    }
    for part in text.split('{').skip(1) {
        let matchers = part.split('}').next().unwrap();
        for matcher in matchers.split(',') {
            let name = matcher.split(['=', '!']).next().unwrap().trim();
            found.push(name.to_owned());
        }
    }
    found.retain(|l| !l.is_empty());
    found
}

#[test]
fn the_dashboard_queries_only_what_the_agent_exports() {
    let exported = exported_series();
    assert!(
        exported["istio_requests_total"].contains("destination_version"),
        "{exported:?}"
    );
    let mut all = Vec::new();
    queries(&dashboard(), &mut all);
    assert!(all.len() >= 10, "{all:?}");
    for query in &all {
        let mut carried: BTreeSet<String> = SCRAPE_LABELS.map(String::from).into();
        for name in identifiers(query) {
            if name.starts_with("istio_") || name.starts_with("mesh_") {
                let labels = exported.get(&name);
                let labels = labels.unwrap_or_else(|| panic!("{name} is not exported: {query}"));
                carried.extend(labels.iter().cloned());
            }
        }
        for label in labels(query) {
            assert!(
                carried.contains(&label),
                "no series here has {label}: {query}"
            );
        }
    }
}

#[test]
fn the_dashboard_shows_rates_success_latency_tcp_and_ebpf() {
    let mut all = Vec::new();
    queries(&dashboard(), &mut all);
    let text = all.join("\n");
    for needle in [
        "rate(istio_requests_total",
        "response_code!~\"5..\"",
        "histogram_quantile(0.5,",
        "histogram_quantile(0.9,",
        "histogram_quantile(0.99,",
        "destination_service_name, destination_version",
        "istio_tcp_sent_bytes_total",
        "istio_tcp_received_bytes_total",
        "istio_tcp_connections_opened_total",
        "mesh_ebpf_captured_outbound_total",
        "mesh_connections_by_pair_total",
    ] {
        assert!(text.contains(needle), "no query with {needle}");
    }
}
