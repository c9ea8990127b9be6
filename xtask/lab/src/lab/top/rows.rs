//! What `lab top` shows, from two scrapes of every agent: per source → destination pair the
//! requests per second, the success rate (not 5xx) and p50/p99 from the growth of the
//! `istio_request_duration_milliseconds` buckets, as `histogram_quantile` computes them.
//!
//! A request between two meshed pods is reported twice (`reporter="source"` by the client's
//! agent, `"destination"` by the server's): a pair is counted from its source reports when it
//! has any, else from its destination reports (clients outside the mesh).

use super::prom_text::Sample;
use std::collections::BTreeMap;

const REQUESTS: &str = "istio_requests_total";
const DURATION_BUCKETS: &str = "istio_request_duration_milliseconds_bucket";

/// A source → destination pair, as `namespace/workload`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    pub source: String,
    pub destination: String,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    pub pair: Pair,
    pub requests_per_second: f64,
    /// Share of requests not answered 5xx, 0–1.
    pub success_rate: f64,
    /// Milliseconds; `None` without duration samples.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Cumulative figures of one pair from one reporter.
#[derive(Clone, Debug, Default, PartialEq)]
struct Traffic {
    requests: f64,
    successes: f64,
    /// Upper bound (`le`) → cumulative count.
    buckets: BTreeMap<OrderedLe, f64>,
}

/// A bucket bound that sorts (`+Inf` last).
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrderedLe(f64);
impl Eq for OrderedLe {}
impl Ord for OrderedLe {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl PartialOrd for OrderedLe {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

type ByReporter = BTreeMap<(bool, Pair), Traffic>;

/// The rows for the window between `before` and `after` (samples of every agent, concatenated)
/// that lasted `seconds`, busiest first, at most `limit`.
pub fn rows(before: &[Sample], after: &[Sample], seconds: f64, limit: usize) -> Vec<TopRow> {
    let (before, after) = (collect(before), collect(after));
    let mut rows: Vec<TopRow> = after
        .iter()
        .filter(|((from_source, pair), _)| {
            *from_source || !after.contains_key(&(true, pair.clone()))
        })
        .filter_map(|(key, now)| row(&key.1, &grown(before.get(key), now), seconds))
        .collect();
    rows.sort_by(|a, b| {
        b.requests_per_second
            .total_cmp(&a.requests_per_second)
            .then_with(|| a.pair.cmp(&b.pair))
    });
    rows.truncate(limit);
    rows
}

/// Sums the request and duration samples per (reported by the source?, pair).
fn collect(samples: &[Sample]) -> ByReporter {
    let mut traffic = ByReporter::new();
    for sample in samples {
        let key = (sample.label("reporter") == "source", pair(sample));
        match sample.name.as_str() {
            REQUESTS => {
                let entry = traffic.entry(key).or_default();
                entry.requests += sample.value;
                if !sample.label("response_code").starts_with('5') {
                    entry.successes += sample.value;
                }
            }
            DURATION_BUCKETS => {
                let Some(le) = bound(sample.label("le")) else {
                    continue;
                };
                let entry = traffic.entry(key).or_default();
                *entry.buckets.entry(OrderedLe(le)).or_default() += sample.value;
            }
            _ => {}
        }
    }
    traffic
}

fn pair(sample: &Sample) -> Pair {
    let named = |workload: &str, namespace: &str| {
        format!("{}/{}", sample.label(namespace), sample.label(workload))
    };
    let destination = match sample.label("destination_workload") {
        "unknown" | "" => named("destination_service_name", "destination_service_namespace"),
        _ => named("destination_workload", "destination_workload_namespace"),
    };
    Pair {
        source: named("source_workload", "source_workload_namespace"),
        destination,
    }
}

fn bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" => Some(f64::INFINITY),
        le => le.parse().ok(),
    }
}

/// What grew since `before`; everything when a counter went back (the agent restarted).
fn grown(before: Option<&Traffic>, now: &Traffic) -> Traffic {
    let Some(before) = before.filter(|b| b.requests <= now.requests) else {
        return now.clone();
    };
    let buckets = now
        .buckets
        .iter()
        .map(|(le, n)| (*le, n - before.buckets.get(le).copied().unwrap_or(0.0)))
        .collect();
    Traffic {
        requests: now.requests - before.requests,
        successes: now.successes - before.successes,
        buckets,
    }
}

fn row(pair: &Pair, window: &Traffic, seconds: f64) -> Option<TopRow> {
    if window.requests <= 0.0 {
        return None;
    }
    Some(TopRow {
        pair: pair.clone(),
        requests_per_second: window.requests / seconds.max(f64::EPSILON),
        success_rate: window.successes / window.requests,
        p50_ms: quantile(0.5, &window.buckets),
        p99_ms: quantile(0.99, &window.buckets),
    })
}

/// Prometheus's `histogram_quantile`: linear inside the bucket holding the rank; the highest
/// finite bound when the rank falls in `+Inf`.
fn quantile(q: f64, buckets: &BTreeMap<OrderedLe, f64>) -> Option<f64> {
    let total = *buckets.values().last()?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (OrderedLe(upper), count) in buckets {
        if *count >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            let inside = count - below;
            let share = if inside > 0.0 {
                (rank - below) / inside
            } else {
                1.0
            };
            return Some(lower + (upper - lower) * share);
        }
        (lower, below) = (*upper, *count);
    }
    Some(lower)
}
