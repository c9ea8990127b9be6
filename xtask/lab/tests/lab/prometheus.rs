//! A real Prometheus (the Debian package) scrapes the lab's agents from inside node-1's netns,
//! every second, while a meshed client calls a Service served by two versions over HTTP; its
//! PromQL answers must show both versions, the eBPF counters and the per-pair connections, and
//! agree with what the agents export; it accepts every query of the Grafana dashboard; and
//! `lab top --once` shows the client's calls to each version.

use crate::mesh_support::{metrics, sum};
use crate::prometheus_support::{await_answer, by_label, query, RunningPrometheus, PROMETHEUS};
use crate::support::{ok, TestLab};
use serde_json::Value;
use std::path::Path;

const CLUSTER: &str = "lab-prometheus.yaml";
const CLIENT: (&str, &str) = ("shop", "client");
/// Requests the test sends through the mesh.
const REQUESTS: usize = 24;

/// `n` requests from the client to Service `web`, in one curl.
fn send(lab: &TestLab, n: usize) {
    let mut argv = vec!["curl", "-sS", "-m", "10", "-o", "/dev/null"];
    argv.extend(vec!["http://web/"; n]);
    ok(lab.exec(CLIENT.0, CLIENT.1, &argv));
}

/// The PromQL of every panel of `deploy/grafana/mesh-dashboard.json`, its variables filled.
fn dashboard_queries() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/mesh-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let targets = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default());
    targets
        .map(|t| {
            t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$service", ".*")
        })
        .collect()
}

/// `lab top --once` while the client keeps calling `web`: its table.
fn top_under_traffic(lab: &TestLab) -> String {
    std::thread::scope(|scope| {
        let top = scope.spawn(|| lab.top());
        for _ in 0..50 {
            if top.is_finished() {
                break;
            }
            send(lab, 4);
        }
        top.join().expect("lab top")
    })
}

fn prerequisites_missing() -> bool {
    if !Path::new(PROMETHEUS).is_file() {
        eprintln!("skipped: prometheus not installed");
        return true;
    }
    false
}

#[test]
fn a_real_prometheus_scrapes_the_agents_and_answers_promql() {
    if prerequisites_missing() {
        return;
    }
    let Some(lab) = crate::mesh_support::mesh_lab_of("t-prom", 2, CLUSTER) else {
        return;
    };
    let prometheus = RunningPrometheus::start(&lab, 2);
    lab.exec_until_ok(
        CLIENT.0,
        CLIENT.1,
        &["curl", "-sS", "-m", "5", "http://web/"],
    );
    // Both versions' series exist and are scraped before the measured traffic, so `rate`
    // sees that traffic as an increase.
    send(&lab, 4);
    let seen = "count by (destination_version) (istio_requests_total{reporter=\"destination\"})";
    await_answer(&lab, &prometheus, seen, |r| r.len() == 2);
    send(&lab, REQUESTS);

    let exported = sum(
        &metrics(&lab, "node-1"),
        "istio_requests_total",
        "reporter=\"source\"",
    );
    assert!(
        exported >= REQUESTS as u64,
        "node-1's agent counted {exported} requests"
    );
    let promql = "sum by (destination_version) (istio_requests_total{reporter=\"source\",destination_service_name=\"web\"})";
    let result = await_answer(&lab, &prometheus, promql, |r| {
        by_label(r, "destination_version")
            .iter()
            .map(|(_, v)| v)
            .sum::<f64>()
            == exported as f64
    });
    let versions: Vec<String> = by_label(&result, "destination_version")
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(versions, ["v1", "v2"], "both versions served and labelled");

    let rate =
        "sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\"}[1m]))";
    // Both versions received part of the burst: each has a rising rate.
    await_answer(&lab, &prometheus, rate, |r| {
        let rates = by_label(r, "destination_version");
        rates.len() == 2 && rates.iter().all(|(_, v)| *v > 0.0)
    });

    await_answer(
        &lab,
        &prometheus,
        "sum(mesh_ebpf_captured_outbound_total) > 0",
        |r| r.len() == 1,
    );
    let pairs = "sum(mesh_connections_by_pair_total{source_workload=\"client\",destination_service_name=\"web\"}) > 0";
    await_answer(&lab, &prometheus, pairs, |r| r.len() == 1);
    let p99 = "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket[1m])))";
    let latency = await_answer(&lab, &prometheus, p99, |r| r.len() == 1);
    assert!(
        by_label(&latency, "")[0].1.is_finite(),
        "p99 is a number: {latency:?}"
    );
    let up = await_answer(&lab, &prometheus, "sum(up)", |r| {
        by_label(r, "").first().is_some_and(|v| v.1 == 2.0)
    });
    assert_eq!(up.len(), 1, "both agents are up");

    for promql in dashboard_queries() {
        assert!(
            query(&lab, &promql).is_some(),
            "Prometheus refuses the dashboard's {promql}"
        );
    }

    let table = top_under_traffic(&lab);
    assert!(table.starts_with("SOURCE"), "{table}");
    for version in ["shop/web-v1", "shop/web-v2"] {
        let line = table
            .lines()
            .find(|l| l.starts_with("shop/client") && l.contains(version));
        let line = line.unwrap_or_else(|| panic!("no client → {version} line:\n{table}"));
        assert!(line.contains("100.00%"), "every request succeeded: {line}");
    }
}
