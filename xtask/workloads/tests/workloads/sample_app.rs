//! `sample-app` on loopback: echo, upstream calls with trace propagation, injected failures,
//! special paths, the load generator's counts, h2c, and the TCP echo pair.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};

const SAMPLE_APP: &str = env!("CARGO_BIN_EXE_sample-app");

/// A running `sample-app` server, killed when dropped (also when a test fails).
struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sample-app ARGS --bind 127.0.0.1 --port 0` as pod `pod` and waits for its `{"listening":..}` line.
fn start(args: &[&str], pod: &str) -> Running {
    let mut child = Command::new(SAMPLE_APP)
        .args(args)
        .args(["--bind", "127.0.0.1", "--port", "0"])
        .env("POD_NAME", pod)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sample-app starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let listening: Value = serde_json::from_str(&line).expect("a listening line");
    let addr = listening["listening"].as_str().unwrap().to_string();
    Running { child, addr }
}

fn serve(name: &str, version: &str, extra: &[&str]) -> Running {
    let mut args = vec!["serve", "--name", name, "--version", version];
    args.extend_from_slice(extra);
    start(&args, &format!("{name}-0"))
}

/// One HTTP/1.1 exchange: returns the status and the raw body.
fn exchange(addr: &str, request: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

/// GET with extra header lines; returns the status and the JSON answer.
fn get(addr: &str, path: &str, headers: &str) -> (u16, Value) {
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: test\r\n{headers}connection: close\r\n\r\n");
    let (status, body) = exchange(addr, &request);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn run(args: &[&str]) -> Output {
    Command::new(SAMPLE_APP)
        .args(args)
        .output()
        .expect("sample-app runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn the_echo_names_the_workload_and_what_it_received() {
    let backend = serve("backend", "v2", &[]);
    let (status, answer) = get(&backend.addr, "/hello", "x-user: jason\r\n");
    assert_eq!(status, 200);
    assert_eq!(answer["service"], "backend");
    assert_eq!(answer["version"], "v2");
    assert_eq!(answer["pod"], "backend-0");
    assert_eq!(answer["method"], "GET");
    assert_eq!(answer["path"], "/hello");
    assert_eq!(answer["headers"]["x-user"], "jason");
    let post = "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nconnection: close\r\n\r\nabcde";
    let (_, body) = exchange(&backend.addr, post);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["body_bytes"],
        5
    );
}

#[test]
fn the_frontend_calls_the_backend_and_propagates_trace_headers() {
    let backend = serve("backend", "v1", &[]);
    let url = format!("http://{}/", backend.addr);
    let frontend = serve("frontend", "v1", &["--call", &url]);
    let trace = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
                 x-request-id: req-1\r\nx-b3-traceid: 80f198ee56343ba8\r\nx-custom: stays\r\n";
    let (status, answer) = get(&frontend.addr, "/", trace);
    assert_eq!(status, 200, "{answer}");
    let upstream = &answer["upstream"][0];
    assert_eq!(upstream["status"], 200);
    assert_eq!(upstream["answer"]["service"], "backend");
    let seen = &upstream["answer"]["headers"];
    assert_eq!(
        seen["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(seen["x-request-id"], "req-1");
    assert_eq!(seen["x-b3-traceid"], "80f198ee56343ba8");
    assert!(
        seen.get("x-custom").is_none(),
        "only trace headers propagate: {seen}"
    );
}

#[test]
fn fail_rate_one_fails_every_request_and_the_caller_reports_502() {
    let backend = serve(
        "backend",
        "v1",
        &["--fail-rate", "1.0", "--fail-status", "503"],
    );
    for _ in 0..5 {
        let (status, answer) = get(&backend.addr, "/", "");
        assert_eq!(status, 503);
        assert_eq!(answer["error"], "injected failure");
    }
    assert_eq!(
        get(&backend.addr, "/healthz", "").0,
        200,
        "health is never failed"
    );
    let url = format!("http://{}/", backend.addr);
    let frontend = serve("frontend", "v1", &["--call", &url]);
    let (status, answer) = get(&frontend.addr, "/", "");
    assert_eq!(status, 502);
    assert_eq!(answer["upstream"][0]["status"], 503);
    assert_eq!(answer["error"], "upstream failed");
}

#[test]
fn special_paths_answer_status_delay_size_and_health() {
    let app = serve("httpbin", "v1", &[]);
    let health = "GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";
    assert_eq!(exchange(&app.addr, health), (200, b"ok".to_vec()));
    assert_eq!(get(&app.addr, "/status/418", "").0, 418);
    assert_eq!(get(&app.addr, "/status/abc", "").0, 400);
    let (status, answer) = get(&app.addr, "/delay/20", "");
    assert_eq!((status, answer["path"].as_str()), (200, Some("/delay/20")));
    let sized = "GET /?size=1024 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";
    let (status, body) = exchange(&app.addr, sized);
    assert_eq!((status, body.len()), (200, 1024));
}

#[test]
fn the_load_generator_counts_requests_codes_and_the_versions_reached() {
    let backend = serve("backend", "v2", &[]);
    let url = format!("http://{}/", backend.addr);
    let frontend = serve("frontend", "v1", &["--call", &url]);
    let target = format!("http://{}/", frontend.addr);
    let output = run(&[
        "load",
        "--url",
        &target,
        "--requests",
        "40",
        "--concurrency",
        "4",
    ]);
    assert!(output.status.success());
    let lines = json_lines(&output);
    let summary = lines.last().unwrap();
    assert_eq!(summary["final"], true);
    assert_eq!(summary["requests"], 40);
    assert_eq!(summary["ok"], 40);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["codes"]["200"], 40);
    assert_eq!(
        summary["by_version"],
        serde_json::json!({"v2": 40}),
        "the backend's version"
    );
    assert_eq!(summary["by_pod"]["backend-0"], 40);
    let counted: u64 = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 40, "the interval lines add up to the summary");
}

#[test]
fn the_load_generator_counts_failures_over_h2c() {
    let backend = serve(
        "backend",
        "v1",
        &["--fail-rate", "1", "--fail-status", "500"],
    );
    let url = format!("http://{}/", backend.addr);
    let output = run(&["load", "--url", &url, "--requests", "10", "--h2"]);
    let summary = json_lines(&output).pop().unwrap();
    assert_eq!(summary["requests"], 10);
    assert_eq!(summary["errors"], 10);
    assert_eq!(summary["codes"]["500"], 10);
    assert_eq!(summary["by_version"]["v1"], 10);
}

#[test]
fn the_load_generator_stops_after_its_duration() {
    let backend = serve("backend", "v1", &[]);
    let url = format!("http://{}/", backend.addr);
    let output = run(&[
        "load",
        "--url",
        &url,
        "--duration",
        "1500ms",
        "--rps",
        "20",
        "--interval",
        "500ms",
    ]);
    let lines = json_lines(&output);
    let summary = lines.last().unwrap();
    assert_eq!(summary["final"], true);
    assert!(summary["requests"].as_u64().unwrap() > 0);
    assert!(
        summary["requests"].as_u64().unwrap() <= 30,
        "rate-limited: {summary}"
    );
    assert!(
        lines.len() >= 3,
        "interval lines before the summary: {lines:?}"
    );
}

#[test]
fn tcp_echo_round_trips_and_the_client_reports_failures() {
    let echo = start(&["tcp-echo"], "echo-0");
    let args = [
        "tcp-client",
        "--addr",
        &echo.addr,
        "--connections",
        "3",
        "--message",
        "ping",
    ];
    let output = run(&args);
    assert!(output.status.success());
    let summary = json_lines(&output).pop().unwrap();
    assert_eq!(
        (summary["ok"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(0))
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = run(&[
        "tcp-client",
        "--addr",
        &closed.to_string(),
        "--connections",
        "2",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_lines(&output).pop().unwrap()["failed"], 2);
}
