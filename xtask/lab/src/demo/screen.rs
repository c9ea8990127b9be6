//! What the demo shows: the load generator's per-second JSON lines turned into a live screen
//! (on a terminal) or into one plain `key=value` line each (anywhere else).

use serde::Deserialize;
use std::collections::BTreeMap;

/// The width of a version's or a pod's bar, in cells.
const BAR_WIDTH: usize = 30;

/// One line of `sample-app load` output.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrafficFigures {
    /// Seconds since the load started.
    pub t: f64,
    /// Requests answered in this interval (in the whole run for the final line).
    pub requests: u64,
    /// Requests per second over the interval.
    pub rps: f64,
    /// Requests answered with a 2xx status.
    pub ok: u64,
    /// Status code (or `error`) → count.
    pub codes: BTreeMap<String, u64>,
    /// Backend version reached → count.
    pub by_version: BTreeMap<String, u64>,
    /// Backend pod reached → count.
    pub by_pod: BTreeMap<String, u64>,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// The summary of the whole run.
    #[serde(rename = "final")]
    pub summary: bool,
}

impl TrafficFigures {
    /// Reads one JSON line; `None` for anything else the load generator printed.
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line.trim()).ok()
    }

    /// The share of requests that succeeded, in percent (100 when there were none).
    pub fn success_percent(&self) -> f64 {
        match self.requests {
            0 => 100.0,
            n => self.ok as f64 * 100.0 / n as f64,
        }
    }
}

/// `share` (0..=1) of [`BAR_WIDTH`] cells filled.
pub fn bar(share: f64) -> String {
    let filled = (share.clamp(0.0, 1.0) * BAR_WIDTH as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled))
}

/// The plain line printed when stdout is not a terminal, e.g.
/// `traffic t=3s rps=412.0 success=100.0% p50=2.1ms p99=5.3ms version:v1=270 pod:backend-v1-0=135`
/// (`total` instead of `traffic` for the final summary).
pub fn plain_line(figures: &TrafficFigures) -> String {
    let kind = if figures.summary { "total" } else { "traffic" };
    let mut line = format!(
        "{kind} t={:.0}s requests={} rps={:.1} success={:.1}% p50={:.1}ms p99={:.1}ms",
        figures.t,
        figures.requests,
        figures.rps,
        figures.success_percent(),
        figures.p50_ms,
        figures.p99_ms
    );
    let counts = [
        ("code", &figures.codes),
        ("version", &figures.by_version),
        ("pod", &figures.by_pod),
    ];
    for (label, map) in counts {
        for (key, n) in map {
            line.push_str(&format!(" {label}:{key}={n}"));
        }
    }
    line
}

/// The live screen's lines: headline figures, a bar per version and per pod, status codes,
/// then `mesh` (the mesh's own counters).
pub fn screen(title: &str, figures: &TrafficFigures, mesh: &[String]) -> Vec<String> {
    let mut lines = vec![
        format!(" {title}    t = {:.0} s    (Ctrl-C to stop)", figures.t),
        String::new(),
        format!(
            " requests/s {:>8.1}    success {:>6.1} %    p50 {:>6.1} ms    p99 {:>6.1} ms",
            figures.rps,
            figures.success_percent(),
            figures.p50_ms,
            figures.p99_ms
        ),
    ];
    lines.extend(shares(
        "backend versions",
        &figures.by_version,
        figures.requests,
    ));
    lines.extend(shares("backend pods", &figures.by_pod, figures.requests));
    let codes: Vec<String> = figures
        .codes
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    lines.push(String::new());
    lines.push(format!(" status codes   {}", codes.join("   ")));
    lines.push(String::new());
    lines.push(" mesh".to_string());
    lines.extend(mesh.iter().map(|line| format!("   {line}")));
    lines
}

/// A titled block of bars, one per key, sized by its share of `total`.
fn shares(title: &str, counts: &BTreeMap<String, u64>, total: u64) -> Vec<String> {
    let mut lines = vec![String::new(), format!(" {title}")];
    for (key, n) in counts {
        let share = if total == 0 {
            0.0
        } else {
            *n as f64 / total as f64
        };
        lines.push(format!(
            "   {key:<14} {} {:>5.1} %  {n:>6}",
            bar(share),
            share * 100.0
        ));
    }
    if counts.is_empty() {
        lines.push("   (no answers yet)".to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"t":3.0,"requests":300,"rps":100.0,"ok":297,"errors":3,
        "codes":{"200":297,"503":3},"by_version":{"v1":200,"v2":100},
        "by_pod":{"backend-v1-0":100,"backend-v1-1":100,"backend-v2-0":100},
        "p50_ms":2.04,"p99_ms":9.5}"#;

    #[test]
    fn a_load_line_parses_and_other_output_does_not() {
        let figures = TrafficFigures::parse(&LINE.replace('\n', "")).unwrap();
        assert_eq!(
            (figures.requests, figures.ok, figures.summary),
            (300, 297, false)
        );
        assert_eq!(figures.by_version["v2"], 100);
        assert!(TrafficFigures::parse("error: connection refused").is_none());
        assert!(
            TrafficFigures::parse(r#"{"t":9,"requests":1,"final":true}"#)
                .unwrap()
                .summary
        );
    }

    #[test]
    fn success_percentages() {
        let with = |requests, ok| TrafficFigures {
            requests,
            ok,
            ..Default::default()
        };
        for (requests, ok, want) in [(0, 0, 100.0), (4, 4, 100.0), (4, 3, 75.0), (4, 0, 0.0)] {
            assert_eq!(with(requests, ok).success_percent(), want);
        }
    }

    #[test]
    fn bars() {
        let cells = |s: &str| (s.matches('█').count(), s.matches('░').count());
        for (share, full) in [
            (0.0, 0),
            (1.0, 30),
            (0.5, 15),
            (2.0 / 3.0, 20),
            (-1.0, 0),
            (7.0, 30),
        ] {
            assert_eq!(
                cells(&bar(share)),
                (full, BAR_WIDTH - full),
                "share {share}"
            );
        }
    }

    #[test]
    fn the_plain_line_carries_every_figure() {
        let figures = TrafficFigures::parse(LINE).unwrap();
        let line = plain_line(&figures);
        assert!(line.starts_with("traffic t=3s requests=300 rps=100.0 success=99.0% p50=2.0ms"));
        for part in [
            "code:503=3",
            "version:v1=200",
            "version:v2=100",
            "pod:backend-v2-0=100",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        let summary = TrafficFigures {
            summary: true,
            ..Default::default()
        };
        assert!(plain_line(&summary).starts_with("total "));
    }

    #[test]
    fn the_screen_shows_versions_pods_codes_and_the_mesh() {
        let figures = TrafficFigures::parse(LINE).unwrap();
        let text = screen("mesh demo", &figures, &["eBPF capture: soon".into()]).join("\n");
        for part in [
            "requests/s    100.0",
            "v1",
            "66.7 %",
            "backend-v2-0",
            "503: 3",
            "eBPF capture: soon",
        ] {
            assert!(text.contains(part), "{part:?} in\n{text}");
        }
        let empty = screen("mesh demo", &TrafficFigures::default(), &[]).join("\n");
        assert!(empty.contains("(no answers yet)"));
    }
}
