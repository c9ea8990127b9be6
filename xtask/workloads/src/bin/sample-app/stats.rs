//! The load generator's tally: counts per status, version and pod, and latency percentiles.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one request came back with.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The HTTP status; `None` when no response came (connect error, timeout).
    pub status: Option<u16>,
    /// The version at the end of the call chain, if the answer named one.
    pub version: Option<String>,
    /// The pod at the end of the call chain, if the answer named one.
    pub pod: Option<String>,
    /// From sending the request to reading the whole body.
    pub latency: Duration,
}

/// Requests counted over a span of time.
#[derive(Debug, Default)]
pub struct Tally {
    requests: u64,
    ok: u64,
    codes: BTreeMap<String, u64>,
    by_version: BTreeMap<String, u64>,
    by_pod: BTreeMap<String, u64>,
    latencies_ms: Vec<f64>,
}

impl Tally {
    /// Counts one request.
    pub fn record(&mut self, outcome: &Outcome) {
        self.requests += 1;
        if matches!(outcome.status, Some(200..=299)) {
            self.ok += 1;
        }
        let code = outcome
            .status
            .map_or("error".to_string(), |s| s.to_string());
        *self.codes.entry(code).or_default() += 1;
        if let Some(version) = &outcome.version {
            *self.by_version.entry(version.clone()).or_default() += 1;
        }
        if let Some(pod) = &outcome.pod {
            *self.by_pod.entry(pod.clone()).or_default() += 1;
        }
        self.latencies_ms
            .push(outcome.latency.as_secs_f64() * 1000.0);
    }

    /// How many requests were counted.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The JSON line: `t` is seconds since the start, `span` the seconds this tally covers.
    pub fn line(&mut self, t: f64, span: f64) -> Value {
        self.latencies_ms.sort_by(f64::total_cmp);
        let rps = if span > 0.0 {
            self.requests as f64 / span
        } else {
            0.0
        };
        json!({
            "t": round(t),
            "requests": self.requests,
            "rps": round(rps),
            "ok": self.ok,
            "errors": self.requests - self.ok,
            "codes": self.codes,
            "by_version": self.by_version,
            "by_pod": self.by_pod,
            "p50_ms": round(percentile(&self.latencies_ms, 50.0)),
            "p99_ms": round(percentile(&self.latencies_ms, 99.0)),
        })
    }
}

/// The nearest-rank percentile `p` (0..=100) of ascending `sorted` values; 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Three decimals are plenty for a screen and keep the lines short.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases: &[(&[f64], f64, f64)] = &[
            (&[], 50.0, 0.0),
            (&[7.0], 50.0, 7.0),
            (&[7.0], 99.0, 7.0),
            (&[1.0, 2.0], 50.0, 1.0),
            (&[1.0, 2.0], 99.0, 2.0),
            (&hundred, 50.0, 50.0),
            (&hundred, 99.0, 99.0),
            (&hundred, 100.0, 100.0),
            (&hundred, 0.0, 1.0),
        ];
        for (values, p, want) in cases {
            assert_eq!(
                percentile(values, *p),
                *want,
                "p{p} of {} values",
                values.len()
            );
        }
    }

    fn outcome(status: Option<u16>, version: &str, pod: &str, ms: u64) -> Outcome {
        Outcome {
            status,
            version: Some(version.into()).filter(|v: &String| !v.is_empty()),
            pod: Some(pod.into()).filter(|p: &String| !p.is_empty()),
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_tally_counts_codes_versions_and_pods() {
        let mut tally = Tally::default();
        for o in [
            outcome(Some(200), "v1", "backend-v1-0", 10),
            outcome(Some(200), "v1", "backend-v1-1", 20),
            outcome(Some(200), "v2", "backend-v2-0", 30),
            outcome(Some(503), "v2", "backend-v2-0", 40),
            outcome(None, "", "", 50),
        ] {
            tally.record(&o);
        }
        let line = tally.line(2.0, 0.5);
        assert_eq!(line["requests"], 5);
        assert_eq!(line["rps"], 10.0);
        assert_eq!(line["ok"], 3);
        assert_eq!(line["errors"], 2);
        assert_eq!(line["codes"], json!({"200": 3, "503": 1, "error": 1}));
        assert_eq!(line["by_version"], json!({"v1": 2, "v2": 2}));
        assert_eq!(line["by_pod"]["backend-v2-0"], 2);
        assert_eq!(line["p50_ms"], 30.0);
        assert_eq!(line["p99_ms"], 50.0);
    }

    #[test]
    fn an_empty_tally_is_all_zero() {
        let line = Tally::default().line(1.0, 0.0);
        assert_eq!(line["requests"], 0);
        assert_eq!(line["rps"], 0.0);
        assert_eq!(line["p99_ms"], 0.0);
    }
}
