//! Telemetry exactness in a two-node lab with real eBPF: a meshed client on node-1 calls
//! Service `web` on node-2 with a known mix of response codes, one curl (one connection) per
//! request, and Service `echo` over plain TCP with `sample-app tcp-client`. Both reporters'
//! `istio_requests_total` per `response_code` (both from node-1: `web` needs no L7 at node-2,
//! which carries its streams at L4), the duration histograms' counts, node-1's
//! `mesh_ebpf_captured_outbound_total` and both sides' TCP byte counters must match exactly.
//!
//! The mix avoids 503: the mesh's default retry policy (`retriable-status-codes`) retries it,
//! so the destination would count more attempts than the client made. 500 is not retried.

use crate::mesh_support::{counters, curl, metrics, sum};
use crate::support::{ok, TestLab};
use std::time::Duration;

const CLUSTER: &str = "lab-telemetry.yaml";
const CLIENT: (&str, &str) = ("shop", "client");
/// A request that succeeds once the web server listens and the agents route to it.
const WARM_HTTP: [&str; 7] = [
    "curl",
    "-sS",
    "-m",
    "5",
    "-o",
    "/dev/null",
    "http://web/status/200",
];
/// The requests sent: `(response code, how many)`.
const MIX: [(u16, u64); 3] = [(200, 7), (500, 3), (404, 2)];
/// What each TCP connection sends (and gets echoed back).
const MESSAGE: &str = "exactly-thirty-two-bytes-of-tcp!";
const TCP_CONNECTIONS: u64 = 4;
/// Where each reporter's agent runs.
const REPORTERS: [(&str, &str); 2] = [("source", "node-1"), ("destination", "node-2")];
/// Who reports each side of an HTTP request: `web` has no inbound L7 policy, so node-2 carries
/// its tunnelled streams at L4 and node-1 reports both sides (L7 once per request).
const HTTP_REPORTERS: [(&str, &str); 2] = [("source", "node-1"), ("destination", "node-1")];
/// Both ends' SPIFFE identities, from the registry (the Pod's `serviceAccountName`, which the
/// lab passes to the agents): the client and `echo` run as `default`, `web` as `web`.
const SOURCE_PRINCIPAL: &str = r#"source_principal="spiffe://cluster.local/ns/shop/sa/default""#;
const WEB_PRINCIPAL: &str = r#"destination_principal="spiffe://cluster.local/ns/shop/sa/web""#;
const ECHO_PRINCIPAL: &str = r#"destination_principal="spiffe://cluster.local/ns/shop/sa/default""#;

/// The sum of `series` over the samples carrying every one of `labels`.
fn sum_with(text: &str, series: &str, labels: &[&str]) -> u64 {
    let matching = text
        .lines()
        .filter(|l| labels.iter().all(|x| l.contains(x)));
    sum(&matching.collect::<Vec<_>>().join("\n"), series, "")
}

/// Node `node`'s `series` over `labels` once it reaches `want` (bounded wait: the agents count
/// a request when its response has ended, a moment after curl returns).
fn settled(lab: &TestLab, node: &str, series: &str, labels: &[&str], want: u64) -> u64 {
    let mut seen = 0;
    for _ in 0..50 {
        seen = sum_with(&metrics(lab, node), series, labels);
        if seen >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

fn send_mix(lab: &TestLab) {
    for (code, count) in MIX {
        let url = format!("http://web/status/{code}");
        for _ in 0..count {
            let out = curl(
                lab,
                CLIENT.0,
                CLIENT.1,
                &["-o", "/dev/null", "-w", "%{http_code}", &url],
            );
            assert_eq!(crate::support::stdout(&out), code.to_string(), "{url}");
        }
    }
}

fn tcp_client(lab: &TestLab, connections: u64) -> std::process::Output {
    let n = connections.to_string();
    let argv = [
        "sample-app",
        "tcp-client",
        "--addr",
        "echo:9000",
        "--connections",
        &n,
    ];
    lab.exec(
        CLIENT.0,
        CLIENT.1,
        &[&argv[..], &["--message", MESSAGE]].concat(),
    )
}

#[test]
fn request_counts_durations_captures_and_tcp_bytes_are_exact() {
    let Some(lab) = crate::mesh_support::mesh_lab_of("t-telem", 2, CLUSTER) else {
        return;
    };
    // Both servers listen before anything is measured.
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &WARM_HTTP);
    let warm_tcp = ["sample-app", "tcp-client", "--addr", "echo:9000"];
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &warm_tcp);
    let web = "destination_service_name=\"web\"";
    settled(&lab, "node-1", "istio_requests_total", &[web], 1);
    let before: Vec<String> = HTTP_REPORTERS
        .iter()
        .map(|(_, n)| metrics(&lab, n))
        .collect();
    let captured_before = counters(&lab, "node-1").outbound;

    send_mix(&lab);
    let captured_http = counters(&lab, "node-1").outbound - captured_before;
    let requests: u64 = MIX.iter().map(|(_, n)| n).sum();
    assert_eq!(captured_http, requests, "one curl, one captured connection");
    for ((reporter, node), before) in HTTP_REPORTERS.iter().zip(&before) {
        let side = format!("reporter=\"{reporter}\"");
        for (code, count) in MIX {
            let code = format!("response_code=\"{code}\"");
            let labels = [web, side.as_str(), &code, SOURCE_PRINCIPAL, WEB_PRINCIPAL];
            let was = sum_with(before, "istio_requests_total", &labels);
            let now = settled(&lab, node, "istio_requests_total", &labels, was + count);
            assert_eq!(now - was, count, "{reporter} count of {code}");
        }
        let histogram = "istio_request_duration_milliseconds_count";
        let was = sum_with(before, histogram, &[web, &side]);
        let now = settled(&lab, node, histogram, &[web, &side], was + requests);
        assert_eq!(now - was, requests, "{reporter} duration observations");
    }
    // node-2 parsed none of them: no request series of its own, not a double count.
    let parsed = sum_with(&metrics(&lab, "node-2"), "istio_requests_total", &[web]);
    assert_eq!(parsed, 0, "node-2 parsed requests to web");

    let before: Vec<String> = REPORTERS.iter().map(|(_, n)| metrics(&lab, n)).collect();
    let captured_before = counters(&lab, "node-1").outbound;
    ok(tcp_client(&lab, TCP_CONNECTIONS));
    let captured_tcp = counters(&lab, "node-1").outbound - captured_before;
    assert_eq!(
        captured_tcp, TCP_CONNECTIONS,
        "one capture per TCP connection"
    );
    let bytes = TCP_CONNECTIONS * MESSAGE.len() as u64;
    let echo = "destination_service_name=\"echo\"";
    for ((reporter, node), before) in REPORTERS.iter().zip(&before) {
        let side = format!("reporter=\"{reporter}\"");
        // The client sent `bytes` (received by the proxy) and got them echoed (sent by it).
        for series in [
            "istio_tcp_received_bytes_total",
            "istio_tcp_sent_bytes_total",
        ] {
            let labels = [echo, side.as_str(), SOURCE_PRINCIPAL, ECHO_PRINCIPAL];
            let was = sum_with(before, series, &labels);
            let now = settled(&lab, node, series, &labels, was + bytes);
            assert_eq!(now - was, bytes, "{reporter} {series}");
        }
    }
}

/// Node `node`'s agent log (its stdout, where `accessLogFile: /dev/stdout` writes).
fn agent_log(lab: &TestLab, node: &str) -> String {
    let path = crate::support::lab_dir(&lab.name).join(format!("logs/agent-{node}.log"));
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The access-log line naming `request_id`, parsed, if node `node`'s agent wrote one.
fn access_line(lab: &TestLab, node: &str, request_id: &str) -> Option<serde_json::Value> {
    let needle = format!("\"x_request_id\":\"{request_id}\"");
    let log = agent_log(lab, node);
    let line = log.lines().find(|l| l.contains(&needle))?;
    Some(serde_json::from_str(line).expect("an access-log line is JSON"))
}

#[test]
fn a_mesh_config_map_turns_access_logs_on_in_the_running_agents() {
    // Not `t-telem-…`: a lab whose name extends another's can lose its namespaces to the other's
    // teardown while it is still being set up (tests of one file run side by side).
    let Some(lab) = crate::mesh_support::mesh_lab_of("t-tlog", 2, CLUSTER) else {
        return;
    };
    let call = |id: &str| {
        let header = format!("x-request-id: {id}");
        let argv = ["-o", "/dev/null", "-H", &header, "http://web/status/200"];
        curl(&lab, CLIENT.0, CLIENT.1, &argv)
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &WARM_HTTP);
    ok(call("before-mesh-config"));
    lab.kubectl("apply", "lab-telemetry-access-log.yaml");
    // The agents reload on their own; call until both sides have logged (bounded).
    let mut lines = (None, None);
    for _ in 0..50 {
        ok(call("after-mesh-config"));
        lines = (
            access_line(&lab, "node-1", "after-mesh-config"),
            access_line(&lab, "node-2", "after-mesh-config"),
        );
        if lines.0.is_some() && lines.1.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (source, destination) = (
        lines.0.expect("node-1 logged"),
        lines.1.expect("node-2 logged"),
    );
    for (line, reporter) in [(&source, "source"), (&destination, "destination")] {
        assert_eq!(line["reporter"], reporter, "{line}");
        assert_eq!(line["path"], "/status/200", "{line}");
        assert_eq!(line["response_code"], 200, "{line}");
        assert_eq!(line["source_workload"], "client", "{line}");
        assert_eq!(line["destination_workload"], "web", "{line}");
    }
    for node in ["node-1", "node-2"] {
        assert!(
            access_line(&lab, node, "before-mesh-config").is_none(),
            "{node} logged before"
        );
    }
}
