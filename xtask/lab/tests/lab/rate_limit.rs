//! Istio's local rate limit task in the lab with real eBPF: its EnvoyFilter (4 tokens a
//! minute for each productpage instance, SIDECAR_INBOUND) applied live lets exactly 4 of 10
//! requests through; the rest are answered 429 `local_rate_limited` with the task's
//! `x-local-rate-limit` header, flagged `RL` in Istio's metrics.

use crate::mesh_support::{admin, curl, mesh_lab_of, metrics, sum};
use crate::support::stdout;
use std::thread::sleep;
use std::time::Duration;

const CLIENT: (&str, &str) = ("default", "client");
const URL: &str = "http://productpage:9080/";
const NODE: &str = "node-1";

#[test]
fn the_task_s_local_rate_limit_passes_four_a_minute_and_answers_429_after() {
    let Some(lab) = mesh_lab_of("t-ratelimit", 1, "lab-rate-limit.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    lab.kubectl("apply", "lab-rate-limit-filter.yaml");
    let applied = (0..80).any(|_| {
        let found = admin(&lab, NODE, "/config_dump").contains("filter-local-ratelimit-svc#0");
        found || {
            sleep(Duration::from_millis(250));
            false
        }
    });
    assert!(applied, "the agent never took the EnvoyFilter");

    let mut statuses = Vec::new();
    for _ in 0..10 {
        let out = curl(&lab, CLIENT.0, CLIENT.1, &["-i", URL]);
        let answer = stdout(&out);
        let status = answer
            .split_whitespace()
            .nth(1)
            .unwrap_or("none")
            .to_string();
        if status == "429" {
            assert!(answer.contains("x-local-rate-limit: true"), "{answer}");
            assert!(answer.ends_with("local_rate_limited"), "{answer}");
        }
        statuses.push(status);
    }
    let passed = statuses.iter().filter(|s| *s == "200").count();
    assert_eq!(passed, 4, "4 tokens a minute: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| *s == "429").count(),
        6,
        "{statuses:?}"
    );

    let limited = (0..40).find_map(|_| {
        let text = metrics(&lab, NODE);
        let with = r#"reporter="destination""#;
        let rows = text
            .lines()
            .filter(|l| l.contains(r#"response_flags="RL""#));
        let count = sum(
            &rows.collect::<Vec<_>>().join("\n"),
            "istio_requests_total",
            with,
        );
        (count == 6).then_some(count).or_else(|| {
            sleep(Duration::from_millis(250));
            None
        })
    });
    assert_eq!(
        limited,
        Some(6),
        "six requests flagged RL by the productpage side"
    );
}
