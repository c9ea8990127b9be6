//! Telemetry figures for `bench http`: the mesh-wide Telemetry that turns metrics,
//! tracing and access logs off (and whether the agent honoured it), and a timed scrape of the
//! agent's `/metrics` with about 1,000 series present.

use super::http_load::{HttpLoad, HttpProtocol};
use super::load::ClientPlace;
use super::release::target_dir;
use crate::build_ebpf::workspace_root;
use crate::lab::{ExecTarget, Lab, METRICS_PORT};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::time::Duration;

/// The Telemetry resource of variant (f).
const TELEMETRY_OFF_YAML: &str = "http-telemetry-off.yaml";
/// Series wanted on the scraped agent before timing the scrape.
const WANTED_SERIES: usize = 1000;
/// How long an apply or delete is given to reach the agents before the next run.
const SETTLE: Duration = Duration::from_secs(2);
/// Timed scrapes; the median is reported.
const SCRAPES: usize = 5;

/// A timed `GET http://<node address>:15020/metrics` from the node's netns.
#[derive(Clone, Debug, Serialize)]
pub struct Scrape {
    pub node: String,
    /// Series (sample lines) in the answer.
    pub series: usize,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// What the agent made of the Telemetry resource of (f).
#[derive(Clone, Debug, Serialize)]
pub struct TelemetryOffCheck {
    /// How the resource reached the agents.
    pub applied: String,
    /// `mesh_config_rejected_resources` on node-1 after the runs.
    pub rejected_resources: Option<f64>,
    /// Growth of node-1's `istio_requests_total` over the (f) runs.
    pub requests_counted: Option<f64>,
    /// Requests the (f) runs measured (warmups not included).
    pub requests_made: u64,
}

impl TelemetryOffCheck {
    /// Whether metrics stopped: fewer requests counted than half of those made.
    pub fn honoured(&self) -> bool {
        self.requests_counted
            .is_some_and(|counted| counted < self.requests_made as f64 / 2.0)
    }
}

/// Applies the mesh-wide Telemetry of (f) with `lab apply`, as a user would.
pub fn apply_telemetry_off(lab: &mut Lab) -> Result<String> {
    let path = workspace_root()
        .join("xtask/bench")
        .join(TELEMETRY_OFF_YAML);
    lab.apply(std::slice::from_ref(&path))
        .with_context(|| format!("lab apply {TELEMETRY_OFF_YAML}"))?;
    std::thread::sleep(SETTLE);
    Ok("lab apply".into())
}

/// Deletes the Telemetry of (f) with `lab delete`: telemetry is on again.
pub fn remove_telemetry_off(lab: &mut Lab) -> Result<()> {
    let path = workspace_root()
        .join("xtask/bench")
        .join(TELEMETRY_OFF_YAML);
    lab.delete(std::slice::from_ref(&path))
        .with_context(|| format!("lab delete {TELEMETRY_OFF_YAML}"))?;
    std::thread::sleep(SETTLE);
    Ok(())
}

/// The agent's `/metrics` text on `node` (from 127.0.0.1 in the node's netns).
pub fn metrics_text(lab: &Lab, node: &str) -> Result<String> {
    let (status, body) = lab.node_get(node, METRICS_PORT, "/metrics")?;
    if status != 200 {
        bail!("GET /metrics on {node} answered {status}");
    }
    Ok(body)
}

/// Sample lines: neither comments nor blank.
pub fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}

/// The sum of every sample of `name` (any labels); `None` when there is none.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labels) => labels.rsplit_once('}')?.1,
                None => rest.strip_prefix(' ')?,
            };
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Adds label sets (one per answer code asked of the server) until the agent of `node`
/// exposes about [`WANTED_SERIES`] series, or the codes run out; the series reached.
pub fn grow_series(lab: &Lab, node: &str, client: &ClientPlace, load: &HttpLoad) -> Result<usize> {
    let mut series = series_count(&metrics_text(lab, node)?);
    let mut codes = 400..500;
    while series < WANTED_SERIES {
        let batch: Vec<u16> = codes.by_ref().take(4).collect();
        if batch.is_empty() {
            break;
        }
        for code in batch {
            let mut one = load.clone();
            one.path = format!("/status/{code}");
            (one.connections, one.duration) = (1, Duration::from_millis(30));
            one.run(lab, client)?;
        }
        series = series_count(&metrics_text(lab, node)?);
    }
    Ok(series)
}

/// Times [`SCRAPES`] scrapes of the agent of `node` at its node address, with curl.
pub fn time_scrape(lab: &Lab, node: &str) -> Result<Scrape> {
    let address = lab
        .nodes()
        .iter()
        .find(|n| n.name() == node)
        .with_context(|| format!("no node {node}"))?
        .address();
    let file = target_dir().join("bench").join("metrics-scrape.txt");
    let url = format!("http://{address}:{METRICS_PORT}/metrics");
    let argv: Vec<String> = ["curl", "-sS", "--fail", "-o"]
        .map(String::from)
        .into_iter()
        .chain([
            file.to_string_lossy().into_owned(),
            "-w".into(),
            "%{time_total}".into(),
            url,
        ])
        .collect();
    let mut times = Vec::new();
    for _ in 0..SCRAPES {
        let out = lab
            .exec_command(&ExecTarget::Node(node.into()), &argv)?
            .output()?;
        if !out.status.success() {
            bail!(
                "curl {}: {}",
                argv[5],
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let seconds: f64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
        times.push(seconds * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(Scrape {
        node: node.into(),
        series: series_count(&std::fs::read_to_string(&file)?),
        median_ms: times[times.len() / 2],
        max_ms: times[times.len() - 1],
    })
}

/// The first protocol's load, for growing series.
pub fn series_load(addr: String, host: Option<String>) -> HttpLoad {
    let mut load = HttpLoad::new(addr, HttpProtocol::Http1, 1);
    load.host = host;
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP istio_requests_total Requests.\n\
        # TYPE istio_requests_total counter\n\
        istio_requests_total{reporter=\"source\",response_code=\"200\"} 40\n\
        istio_requests_total{reporter=\"source\",response_code=\"404\"} 2\n\
        istio_requests_total_created{reporter=\"source\"} 1.7e9\n\
        mesh_config_rejected_resources 1\n\n# EOF\n";

    #[test]
    fn series_are_the_sample_lines() {
        assert_eq!(series_count(TEXT), 4);
    }

    #[test]
    fn sums_add_every_label_set_of_exactly_that_name() {
        assert_eq!(metric_sum(TEXT, "istio_requests_total"), Some(42.0));
        assert_eq!(
            metric_sum(TEXT, "mesh_config_rejected_resources"),
            Some(1.0)
        );
        assert_eq!(metric_sum(TEXT, "istio_tcp_sent_bytes_total"), None);
    }

    #[test]
    fn telemetry_off_is_honoured_only_when_requests_stop_being_counted() {
        let mut check = TelemetryOffCheck {
            applied: "lab apply".into(),
            rejected_resources: Some(0.0),
            requests_counted: Some(0.0),
            requests_made: 10_000,
        };
        assert!(check.honoured());
        check.requests_counted = Some(10_300.0);
        assert!(!check.honoured());
        check.requests_counted = None;
        assert!(!check.honoured());
    }
}
