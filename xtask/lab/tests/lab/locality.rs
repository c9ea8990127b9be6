//! Locality-aware balancing with real eBPF: node-1 is labelled region `us`, zone `a`, so its agent
//! runs with `--locality us/a`; a ServiceEntry lists two external hosts, beta in `eu/b` first
//! and alpha in `us/a`, and its DestinationRule sets outlier detection (Istio's condition for
//! locality failover). Every request goes to alpha, the client's own locality, whichever address
//! the app dials; once alpha is gone, the requests fail over to beta.

use crate::mesh_support::{curl, require_built};
use crate::support::{stdout, TestLab};
use std::thread::sleep;
use std::time::Duration;

const HOST_PORT: &str = "api.example.net:80";

/// The `service` that answered a request to the ServiceEntry's host, dialled at `dial`.
fn answered_by(lab: &TestLab, dial: &str) -> String {
    let pinned = format!("{HOST_PORT}:{dial}");
    let args = ["--resolve", &pinned, "http://api.example.net/"];
    let text = stdout(&curl(lab, "shop", "client", &args));
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    answer["service"].as_str().unwrap_or_default().to_string()
}

/// Polls (bounded, ~15 s) until `service` answers.
fn until_answered_by(lab: &TestLab, service: &str, dial: &str) {
    let mut last = String::new();
    for _ in 0..60 {
        last = answered_by(lab, dial);
        if last == service {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{service} did not answer; last answer from {last:?}");
}

/// Writes `yaml` to a file and applies (or deletes) it.
fn change(lab: &TestLab, what: &str, yaml: &str, delete: bool) {
    let path =
        std::env::temp_dir().join(format!("{}-{what}-{}.yaml", lab.name, std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    let done = match delete {
        false => lab.try_apply(&path),
        true => lab.try_delete(&path),
    };
    let _ = std::fs::remove_file(&path);
    done.unwrap_or_else(|err| panic!("lab apply/delete of {what}: {err:#}"));
}

fn resources(alpha: &str, beta: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [api.example.net]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: STATIC\n\
         \x20 ports: [{{number: 80, name: http, protocol: HTTP}}]\n  endpoints:\n\
         \x20 - {{address: {beta}, locality: eu/b}}\n\
         \x20 - {{address: {alpha}, locality: us/a}}\n---\n\
         apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  host: api.example.net\n\
         \x20 trafficPolicy:\n    outlierDetection: {{consecutiveGatewayErrors: 1, \
         consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100}}\n"
    )
}

#[test]
fn requests_stay_in_the_agent_s_locality_and_fail_over_when_it_is_gone() {
    let Some(lab) = TestLab::new("t-locality") else {
        return;
    };
    require_built();
    lab.up_with_node_labels(
        1,
        &["lab-external.yaml"],
        &[
            "node-1:topology.kubernetes.io/region=us",
            "node-1:topology.kubernetes.io/zone=a",
        ],
    );
    let address = |pod: &str| {
        lab.open()
            .pod("outside", pod)
            .expect("a host")
            .ip()
            .to_string()
    };
    let (alpha, beta) = (address("alpha"), address("beta"));
    change(&lab, "api", &resources(&alpha, &beta), false);
    until_answered_by(&lab, "alpha", &beta);
    let answers: Vec<String> = (0..10).map(|_| answered_by(&lab, &beta)).collect();
    assert!(
        answers.iter().all(|a| a == "alpha"),
        "round robin would alternate; locality keeps to alpha (us/a): {answers:?}"
    );

    let alpha_pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: alpha, namespace: outside}\n";
    change(&lab, "alpha", alpha_pod, true);
    until_answered_by(&lab, "beta", &alpha);
    let answers: Vec<String> = (0..10).map(|_| answered_by(&lab, &alpha)).collect();
    assert!(
        answers.iter().all(|a| a == "beta"),
        "alpha is gone: every request fails over to eu/b: {answers:?}"
    );
}
