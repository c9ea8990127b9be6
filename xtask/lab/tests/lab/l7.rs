//! L7 rules in the lab with real eBPF, on one lab (`lab-l7.yaml`): rewrite, redirect,
//! directResponse and header manipulation as the backend and curl see them; a mirror target
//! that hangs does not slow the primary; a gRPC abort gives the client `grpc-status: 14`; load
//! balancing by DestinationRule (round robin, consistent hash on a header, least request).

mod balancing;

use crate::mesh_support::{curl, mesh_lab_of, metrics, sum};
use crate::support::{stdout, TestLab};
use serde_json::Value;
use std::thread::sleep;
use std::time::Duration;

const CLIENT: (&str, &str) = ("shop", "client");
/// How long the mirror target (`sink`) waits before every answer.
const SINK_DELAY_SECS: f64 = 30.0;

/// `curl -sS -m 5 ARGS...` in the client pod; its stdout.
fn curl_out(lab: &TestLab, args: &[&str]) -> String {
    stdout(&curl(lab, CLIENT.0, CLIENT.1, args))
}

/// Polls (bounded) until `args` print `want`: the agent reads the VirtualServices at start.
fn until_prints(lab: &TestLab, args: &[&str], want: &str) {
    let mut last = String::new();
    for _ in 0..60 {
        last = curl_out(lab, args);
        if last == want {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("curl {args:?} never printed {want:?}: last {last:?}");
}

/// The response head (status line and `name: value` lines, names lowercased) and body of
/// `curl -i`.
fn head_and_body(text: &str) -> (Vec<String>, String) {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let lines = head.lines().map(|l| match l.split_once(':') {
        Some((name, value)) => format!("{}: {}", name.to_lowercase(), value.trim()),
        None => l.trim().to_string(),
    });
    (lines.collect(), body.to_string())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not a backend answer ({e}): {body:?}"))
}

#[test]
fn rules_answer_rewrite_and_mirror_and_faults_reach_grpc_clients_and_balancers_spread() {
    let Some(lab) = mesh_lab_of("t-l7", 1, "lab-l7.yaml") else {
        return;
    };
    let teapot = [
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://backend/teapot",
    ];
    until_prints(&lab, &teapot, "418");

    rewrite_redirect_and_direct_response(&lab);
    header_manipulation(&lab);
    hanging_mirror_does_not_slow_the_primary(&lab);
    grpc_abort(&lab);
    balancing::balancing(&lab);
}

fn rewrite_redirect_and_direct_response(lab: &TestLab) {
    let rewritten = json(&curl_out(lab, &["http://backend/v1/items?x=1"]));
    eprintln!("rewrite /v1/ → /v2/: backend saw {}", rewritten["path"]);
    assert_eq!(rewritten["path"], "/v2/items");

    let redirect = ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"];
    let out = curl_out(lab, &[&redirect[..], &["http://backend/old?q=a"]].concat());
    eprintln!("redirect: {out:?}");
    assert_eq!(out, "302 http://moved.example/new?q=a");

    let out = curl_out(lab, &["-w", " %{http_code}", "http://backend/teapot"]);
    eprintln!("directResponse: {out:?}");
    assert_eq!(out, "short and stout 418");
}

fn header_manipulation(lab: &TestLab) {
    let args = [
        "-i",
        "-H",
        "x-drop-me: 1",
        "-H",
        "x-keep: 2",
        "http://backend/headers",
    ];
    let (head, body) = head_and_body(&curl_out(lab, &args));
    let seen = json(&body)["headers"].clone();
    eprintln!("headers: curl saw {head:?}; backend saw {seen}");
    assert_eq!(seen["x-mesh-set"], "by-the-mesh", "request.set");
    assert_eq!(seen.get("x-drop-me"), None, "request.remove");
    assert_eq!(seen["x-keep"], "2");
    assert!(
        head.contains(&"x-mesh-added: yes".to_string()),
        "response.add"
    );
    assert!(
        !head.iter().any(|l| l.starts_with("x-pod:")),
        "response.remove"
    );
    assert!(head.contains(&"x-version: v1".to_string()), "others kept");
}

/// 20 requests to a route mirrored to `sink`, which answers after 30 s: every client gets the
/// backend's own answer, each well within the sink's delay (curl's own limit is 5 s).
fn hanging_mirror_does_not_slow_the_primary(lab: &TestLab) {
    const COUNT: usize = 20;
    let mirrors = || sum(&metrics(lab, "node-1"), "mesh_mirror_requests_total", "");
    let before = mirrors();
    let mut argv = vec!["-w", "\t%{http_code} %{time_total}\n"];
    argv.extend(std::iter::repeat_n("http://backend/mirrored", COUNT));
    let out = curl_out(lab, &argv);
    let answers: Vec<(Value, String, f64)> = out
        .lines()
        .filter_map(|line| {
            let (body, written) = line.rsplit_once('\t')?;
            let (code, seconds) = written.split_once(' ')?;
            Some((json(body), code.to_string(), seconds.parse().ok()?))
        })
        .collect();
    assert_eq!(answers.len(), COUNT, "{out}");
    let slowest = answers.iter().map(|a| a.2).fold(0.0, f64::max);
    let sent = mirrors() - before;
    eprintln!("mirror to a sink hanging {SINK_DELAY_SECS} s: {COUNT} primaries, slowest {slowest:.3} s, {sent} shadows sent");
    for (answer, code, _) in &answers {
        assert_eq!(code, "200");
        assert_eq!(
            (&answer["service"], &answer["version"]),
            (&"backend".into(), &"v1".into())
        );
    }
    assert!(
        slowest < SINK_DELAY_SECS / 10.0,
        "slowest primary {slowest} s"
    );
    assert_eq!(sent, COUNT as u64, "every primary mirrored once");
}

/// A gRPC call (h2c, `content-type: application/grpc`) to a Service whose VirtualService aborts
/// every request with `grpcStatus: UNAVAILABLE`: HTTP 200, trailers-only, `grpc-status: 14`.
fn grpc_abort(lab: &TestLab) {
    let args = [
        "--http2-prior-knowledge",
        "-i",
        "-X",
        "POST",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "--data-binary",
        "",
        "http://grpc:50051/shop.Echo/Say",
    ];
    let (head, _) = head_and_body(&curl_out(lab, &args));
    eprintln!("gRPC abort: {head:?}");
    assert_eq!(head.first().map(String::as_str), Some("HTTP/2 200"));
    assert!(head.contains(&"grpc-status: 14".to_string()), "{head:?}");
    assert!(head.contains(&"content-type: application/grpc".to_string()));
    let flagged = "response_flags=\"FI\"";
    let aborted = sum(&metrics(lab, "node-1"), "istio_requests_total", flagged);
    assert!(aborted >= 1, "no FI-flagged request on node-1");
}
