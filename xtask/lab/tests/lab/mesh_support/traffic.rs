//! Driving traffic from a pod and waiting for the agents: `sample-app load` summaries, mesh
//! resources applied until node-1's agent has them in force, counters read until they settle.

use super::{admin, metrics};
use crate::support::{stdout, TestLab};
use serde_json::Value;
use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

/// What `sample-app load` counted over a run (its final line).
#[derive(Debug)]
pub struct Load {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests by status code (`error`: no answer).
    pub codes: BTreeMap<String, u64>,
    /// Requests by the pod that answered (local replies name none).
    pub by_pod: BTreeMap<String, u64>,
}

impl Load {
    /// How many requests were answered `code`.
    pub fn code(&self, code: &str) -> u64 {
        self.codes.get(code).copied().unwrap_or(0)
    }
}

/// `requests` requests to `url` from pod `client` (`(ns, name)`), `concurrency` at a time.
pub fn load(
    lab: &TestLab,
    client: (&str, &str),
    url: &str,
    requests: u64,
    concurrency: u64,
) -> Load {
    load_with_headers(lab, client, url, requests, concurrency, &[])
}

/// Like [`load`], every request carrying `headers` (`NAME:VALUE` each).
pub fn load_with_headers(
    lab: &TestLab,
    client: (&str, &str),
    url: &str,
    requests: u64,
    concurrency: u64,
    headers: &[&str],
) -> Load {
    let (requests, concurrency) = (requests.to_string(), concurrency.to_string());
    let argv = ["sample-app", "load", "--url", url, "--requests", &requests];
    let mut argv = [&argv[..], &["--concurrency", &concurrency]].concat();
    for header in headers {
        argv.extend(["--header", header]);
    }
    let out = stdout(&lab.exec(client.0, client.1, &argv));
    let last = out.lines().next_back().unwrap_or_default();
    let summary: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"));
    let counts = |key: &str| serde_json::from_value(summary[key].clone()).unwrap_or_default();
    Load {
        ok: summary["ok"].as_u64().unwrap_or(0),
        codes: counts("codes"),
        by_pod: counts("by_pod"),
    }
}

/// `lab apply|delete FILE`, then waits (bounded) until `in_force` holds for the snapshot node-1's
/// agent serves at `/config_dump` (`lab apply` does not wait for the agents to reload).
pub fn kubectl_until(lab: &TestLab, verb: &str, file: &str, in_force: impl Fn(&Value) -> bool) {
    lab.kubectl(verb, file);
    for _ in 0..40 {
        let dump: Value = serde_json::from_str(&admin(lab, "node-1", "/config_dump")).unwrap();
        if in_force(&dump["snapshot"]) {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{verb} {file} never took effect in node-1's agent");
}

/// Whether the VirtualService `vs` (`NAMESPACE/NAME`) routes `host` in `snapshot`.
pub fn routed_by(snapshot: &Value, host: &str, vs: &str) -> bool {
    let name = &snapshot["routes"][host][0]["virtual_service"];
    name.as_str() == Some(vs)
}

/// Whether the clusters of `host` in `snapshot` carry the DestinationRule setting `field`.
pub fn has_policy(snapshot: &Value, host: &str, field: &str) -> bool {
    let clusters = snapshot["clusters"][host].as_array().cloned();
    clusters
        .unwrap_or_default()
        .iter()
        .any(|c| !c["policy"][field].is_null())
}

/// The sum of the samples of `series` whose line holds every one of `with`.
pub fn sum_of(text: &str, series: &str, with: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{series}{{")) && with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The requests node `node`'s agent counted (`istio_requests_total`) with every label of `with`.
pub fn requests(lab: &TestLab, node: &str, with: &[&str]) -> u64 {
    sum_of(&metrics(lab, node), "istio_requests_total", with)
}

/// Polls `read` (bounded) until it gives the same figure twice in a row, 300 ms apart.
pub fn steady(read: impl Fn() -> u64) -> u64 {
    let mut last = read();
    for _ in 0..20 {
        sleep(Duration::from_millis(300));
        let now = read();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}
