//! `mesh_connections_by_pair_total` from the eBPF `FLOWS` map: bounded labels (workload and
//! Service names, `unknown` otherwise), counters that only go up across LRU evictions, and
//! flows of a pod not yet known held until it is.

use std::sync::{Arc, Mutex};

use mesh_agent::bpf::FlowCount;
use mesh_agent::flows::{self, pair_labels, FlowTally, PairLabels, PodIndex};
use mesh_agent::pipeline::ConfigState;
use mesh_agent::pods::EnrolledPod;
use mesh_agent::snapshot::Snapshot;
use prometheus_client::registry::Registry;

use crate::harness::config;

const REVIEWS_V1: u64 = 11;

fn bookinfo() -> Snapshot {
    config::compile_with(Vec::new()).0
}

fn pod(name: &str, ip: &str, cookie: u64) -> EnrolledPod {
    EnrolledPod {
        namespace: "default".into(),
        name: name.into(),
        uid: String::new(),
        ip: ip.parse().unwrap(),
        ips: vec![ip.parse().unwrap()],
        netns_cookie: cookie,
    }
}

fn flow(cookie: u64, destination: &str, connections: u64) -> FlowCount {
    FlowCount {
        netns_cookie: cookie,
        destination: destination.parse().unwrap(),
        connections,
    }
}

fn labels(source: &str, service: &str, namespace: &str) -> PairLabels {
    PairLabels {
        source_workload: source.into(),
        source_workload_namespace: "default".into(),
        destination_service_name: service.into(),
        destination_service_namespace: namespace.into(),
    }
}

#[test]
fn a_pair_is_named_by_workload_and_service_never_by_address() {
    let snapshot = bookinfo();
    let source = pod("reviews-v1-0", "10.0.0.11", REVIEWS_V1);
    let cases = [
        (
            "10.96.0.30:9080",
            labels("reviews-v1", "ratings", "default"),
        ),
        ("10.0.0.21:9080", labels("reviews-v1", "ratings", "default")),
        (
            "10.96.0.30:9999",
            labels("reviews-v1", "unknown", "unknown"),
        ),
        ("192.0.2.7:443", labels("reviews-v1", "unknown", "unknown")),
    ];
    for (destination, want) in cases {
        let got = pair_labels(&snapshot, &source, destination.parse().unwrap());
        assert_eq!(got, want, "{destination}");
    }
    let stranger = pod("batch-7", "10.0.9.9", 99);
    let got = pair_labels(&snapshot, &stranger, "10.96.0.30:9080".parse().unwrap());
    assert_eq!(got, labels("batch", "ratings", "default"));
}

/// Runs `tally` over `flows`, naming cookie 1 only, and returns what it added per destination.
fn added(tally: &mut FlowTally, flows: &[FlowCount]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let name = |f: &FlowCount| {
        (f.netns_cookie == 1).then(|| labels("a", &f.destination.to_string(), "default"))
    };
    tally.observe(flows, name, |l, n| {
        out.push((l.destination_service_name.clone(), n))
    });
    out
}

#[test]
fn the_tally_adds_growth_survives_eviction_and_holds_unknown_pods() {
    let mut tally = FlowTally::default();
    let x = "10.0.0.1:80";
    let y = "10.0.0.2:80";
    let first = added(&mut tally, &[flow(1, x, 3), flow(2, x, 5)]);
    assert_eq!(first, [(x.to_string(), 3)], "cookie 2 is unknown: held");
    let grown = added(&mut tally, &[flow(1, x, 7), flow(1, y, 1)]);
    assert_eq!(grown, [(x.to_string(), 4), (y.to_string(), 1)]);
    let same = added(&mut tally, &[flow(1, x, 7), flow(1, y, 1)]);
    assert!(same.is_empty(), "nothing grew: {same:?}");
    // `x` was evicted and re-created: its 2 new connections count, nothing is taken back.
    let recreated = added(&mut tally, &[flow(1, x, 2)]);
    assert_eq!(recreated, [(x.to_string(), 2)]);
    // `y` vanished and came back from zero.
    let back = added(&mut tally, &[flow(1, x, 2), flow(1, y, 1)]);
    assert_eq!(back, [(y.to_string(), 1)]);
}

fn scrape(registry: &Registry) -> String {
    crate::harness::metrics::text(registry)
}

fn sample(text: &str, service: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("mesh_connections_by_pair_total{") && l.contains(service))?;
    line.rsplit(' ').next()?.parse().ok()
}

#[test]
fn the_counters_are_scraped_with_bounded_labels_and_only_go_up() {
    let map = Arc::new(Mutex::new(vec![flow(REVIEWS_V1, "10.96.0.30:9080", 4)]));
    let reader = map.clone();
    let source: flows::FlowSource = Arc::new(move || reader.lock().unwrap().clone());
    let pods = PodIndex::default();
    let mut registry = Registry::default();
    let config = ConfigState::with_snapshot(bookinfo());
    flows::register(&mut registry, source, pods.clone(), config);

    let text = scrape(&registry);
    assert_eq!(
        sample(&text, "ratings"),
        None,
        "the pod is not enrolled yet"
    );
    pods.replace(vec![pod("reviews-v1-0", "10.0.0.11", REVIEWS_V1)]);
    let text = scrape(&registry);
    let expected = "mesh_connections_by_pair_total{source_workload=\"reviews-v1\",\
        source_workload_namespace=\"default\",destination_service_name=\"ratings\",\
        destination_service_namespace=\"default\"} 4";
    assert!(text.contains(expected), "{text}");

    *map.lock().unwrap() = vec![
        flow(REVIEWS_V1, "10.96.0.30:9080", 1), // evicted, counted afresh
        flow(REVIEWS_V1, "203.0.113.9:5432", 2),
        flow(REVIEWS_V1, "203.0.113.10:5432", 3),
    ];
    let text = scrape(&registry);
    assert_eq!(sample(&text, "\"ratings\""), Some(5));
    assert_eq!(sample(&text, "\"unknown\""), Some(5), "{text}");
    assert!(!text.contains("203.0.113"), "no raw address in a label");
    let series = text
        .lines()
        .filter(|l| l.starts_with("mesh_connections_by_pair_total{"));
    assert_eq!(series.count(), 2);
}
