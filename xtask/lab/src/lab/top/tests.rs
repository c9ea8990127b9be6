//! Table tests of `lab top`'s rows: rate, success, quantiles, reporters, restarts.

use super::prom_text::Sample;
use super::rows::{rows, Pair, TopRow};
use std::collections::BTreeMap;

const REQUESTS: &str = "istio_requests_total";
const DURATION_BUCKETS: &str = "istio_request_duration_milliseconds_bucket";

/// Samples of one pair from one reporter: requests per response code and bucket counts
/// (le 1, 5, 10, +Inf).
fn report(
    reporter: &str,
    source: &str,
    dst: &str,
    codes: &[(&str, f64)],
    buckets: [f64; 4],
) -> Vec<Sample> {
    let labels = |extra: (&str, &str)| {
        let mut l: BTreeMap<String, String> = [
            ("reporter", reporter),
            ("source_workload", source),
            ("source_workload_namespace", "mesh"),
            ("destination_workload", dst),
            ("destination_workload_namespace", "mesh"),
            ("destination_service_name", "web"),
            ("destination_service_namespace", "mesh"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        l.insert(extra.0.into(), extra.1.into());
        l
    };
    let sample = |name: &str, extra, value| Sample {
        name: name.into(),
        labels: labels(extra),
        value,
    };
    let mut out: Vec<Sample> = codes
        .iter()
        .map(|(code, n)| sample(REQUESTS, ("response_code", code), *n))
        .collect();
    for (le, n) in ["1", "5", "10", "+Inf"].into_iter().zip(buckets) {
        out.push(sample(DURATION_BUCKETS, ("le", le), n));
    }
    out
}

fn pair(source: &str, destination: &str) -> Pair {
    Pair {
        source: source.into(),
        destination: destination.into(),
    }
}

#[test]
fn a_window_gives_rate_success_and_quantiles() {
    let before = report(
        "source",
        "client",
        "web-v1",
        &[("200", 10.0), ("503", 1.0)],
        [2.0, 11.0, 11.0, 11.0],
    );
    let after = report(
        "source",
        "client",
        "web-v1",
        &[("200", 18.0), ("503", 3.0)],
        [2.0, 16.0, 21.0, 21.0],
    );
    let rows = rows(&before, &after, 2.0, 10);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.pair, pair("mesh/client", "mesh/web-v1"));
    assert_eq!(row.requests_per_second, 5.0);
    assert_eq!(row.success_rate, 0.8);
    assert_eq!(
        row.p50_ms,
        Some(5.0),
        "rank 5 of 10: the top of the (1, 5] bucket"
    );
    assert!((row.p99_ms.unwrap() - 9.9).abs() < 1e-9, "{:?}", row.p99_ms);
}

#[test]
fn each_request_counts_once_whoever_reports_it() {
    let mut before = report("source", "client", "web-v1", &[("200", 0.0)], [0.0; 4]);
    before.extend(report(
        "destination",
        "client",
        "web-v1",
        &[("200", 0.0)],
        [0.0; 4],
    ));
    let mut after = report("source", "client", "web-v1", &[("200", 4.0)], [4.0; 4]);
    after.extend(report(
        "destination",
        "client",
        "web-v1",
        &[("200", 4.0)],
        [4.0; 4],
    ));
    after.extend(report(
        "destination",
        "unknown",
        "web-v2",
        &[("200", 6.0)],
        [0.0, 6.0, 6.0, 6.0],
    ));
    let rows = rows(&before, &after, 1.0, 10);
    let seen: Vec<(Pair, f64)> = rows
        .iter()
        .map(|r| (r.pair.clone(), r.requests_per_second))
        .collect();
    assert_eq!(
        seen,
        [
            (pair("mesh/unknown", "mesh/web-v2"), 6.0),
            (pair("mesh/client", "mesh/web-v1"), 4.0)
        ],
        "busiest first; the meshed pair counted from its source report only"
    );
    assert_eq!(rows[1].p50_ms, Some(0.5));
    assert_eq!(rows[0].p50_ms, Some(3.0));
}

#[test]
fn idle_pairs_restarts_and_limits() {
    let idle = report("source", "client", "web-v1", &[("200", 5.0)], [5.0; 4]);
    assert!(rows(&idle, &idle, 1.0, 10).is_empty(), "no growth, no row");
    let restarted = report(
        "source",
        "client",
        "web-v1",
        &[("500", 2.0)],
        [0.0, 0.0, 0.0, 2.0],
    );
    let rows_after_restart = rows(&idle, &restarted, 1.0, 10);
    assert_eq!(rows_after_restart[0].requests_per_second, 2.0);
    assert_eq!(rows_after_restart[0].success_rate, 0.0);
    assert_eq!(
        rows_after_restart[0].p99_ms,
        Some(10.0),
        "+Inf: the highest finite bound"
    );
    let mut many = restarted.clone();
    many.extend(report(
        "source",
        "other",
        "web-v1",
        &[("200", 1.0)],
        [1.0; 4],
    ));
    assert_eq!(rows(&[], &many, 1.0, 1).len(), 1);
}

#[test]
fn the_table_aligns_its_columns_and_names_silent_agents() {
    let row = TopRow {
        pair: pair("mesh/client", "mesh/web-v1"),
        requests_per_second: 12.5,
        success_rate: 0.5,
        p50_ms: Some(2.25),
        p99_ms: None,
    };
    let table = super::render(&[row], &["node-2".to_string()]);
    let expected = "\
SOURCE       DESTINATION  RPS   SUCCESS  P50    P99
mesh/client  mesh/web-v1  12.5  50.00%   2.2ms  -
no metrics from: node-2
";
    assert_eq!(table, expected);
    assert!(super::render(&[], &[]).ends_with("(no requests in this window)\n"));
}
