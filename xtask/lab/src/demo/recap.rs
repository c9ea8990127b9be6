//! The demo's last table: every step side by side, each row the load's summary of the whole
//! step — rate, success, latency, and where the requests went (versions, status codes).

use super::screen::TrafficFigures;
use std::collections::BTreeMap;

/// One step's summary.
pub struct StepRecap {
    /// The step's name (its file without `.yaml`).
    pub name: String,
    pub figures: TrafficFigures,
}

/// The table's lines: a header, then a row per step.
pub fn table(steps: &[StepRecap]) -> Vec<String> {
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    let mut lines = vec![format!(
        "{:<width$} {:>8} {:>7} {:>8} {:>7} {:>7}  {:<22} codes",
        "step", "requests", "req/s", "success", "p50 ms", "p99 ms", "versions"
    )];
    for step in steps {
        let f = &step.figures;
        lines.push(format!(
            "{:<width$} {:>8} {:>7.0} {:>7.1}% {:>7.1} {:>7.1}  {:<22} {}",
            step.name,
            f.requests,
            f.rps,
            f.success_percent(),
            f.p50_ms,
            f.p99_ms,
            shares(&f.by_version, f.requests),
            counts(&f.codes),
        ));
    }
    lines
}

/// `v1 90% v2 10%`: each key's share of `total`.
fn shares(counts: &BTreeMap<String, u64>, total: u64) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(key, n)| format!("{key} {:.0}%", *n as f64 * 100.0 / total.max(1) as f64))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// `200:1200 500:30`.
fn counts(counts: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, line: &str) -> StepRecap {
        StepRecap {
            name: name.into(),
            figures: TrafficFigures::parse(line).unwrap(),
        }
    }

    #[test]
    fn each_step_is_a_row_of_its_whole_summary() {
        let steps = [
            step(
                "2-canary-90-10",
                r#"{"t":15,"requests":9000,"rps":600,"ok":9000,"codes":{"200":9000},
                   "by_version":{"v1":8100,"v2":900},"p50_ms":1.2,"p99_ms":4.5,"final":true}"#,
            ),
            step(
                "5-fault",
                r#"{"t":15,"requests":1000,"rps":66.7,"ok":700,"codes":{"200":700,"500":300},
                   "by_version":{"v1":700},"p50_ms":1.0,"p99_ms":3.0,"final":true}"#,
            ),
        ];
        let lines = table(&steps);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("step "), "{}", lines[0]);
        for part in [
            "2-canary-90-10",
            "9000",
            "600",
            "100.0%",
            "v1 90% v2 10%",
            "200:9000",
        ] {
            assert!(lines[1].contains(part), "{part:?} in {}", lines[1]);
        }
        for part in ["70.0%", "200:700 500:300"] {
            assert!(lines[2].contains(part), "{part:?} in {}", lines[2]);
        }
    }
}
