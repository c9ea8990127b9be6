//! `mesh-load` against its own servers on loopback (TCP echo, HTTP/1.1 + h2c): the summary is
//! one JSON line that counts requests and errors. No timing is asserted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const MESH_LOAD: &str = env!("CARGO_BIN_EXE_mesh-load");

/// Kills the echo server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mesh-load serve` on a free loopback port and returns it with its address.
fn start_server() -> (Server, String) {
    start("serve")
}

/// Starts `mesh-load <subcommand>` on a free loopback port and returns it with its address.
fn start(subcommand: &str) -> (Server, String) {
    let mut child = Command::new(MESH_LOAD)
        .args([subcommand, "--port", "0", "--bind", "127.0.0.1"])
        .args(["--size", "1024"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mesh-load serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let hello: serde_json::Value = serde_json::from_str(&line).expect("a JSON hello line");
    let addr = hello["listening"]
        .as_str()
        .expect("listening address")
        .to_string();
    (server, addr)
}

fn run_load(addr: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(MESH_LOAD)
        .args(["--addr", addr, "--connections", "2", "--size", "1024"])
        .args(["--duration", "1s", "--warmup", "200ms"])
        .args(extra)
        .output()
        .expect("mesh-load runs");
    assert!(out.status.success(), "mesh-load failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line, got {text:?}");
    serde_json::from_str(text.trim()).expect("the summary is JSON")
}

#[test]
fn load_over_kept_connections_counts_requests_without_errors() {
    let (_server, addr) = start_server();
    let summary = run_load(&addr, &[]);
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["errors"].as_u64(), Some(0), "{summary}");
    for key in ["rps", "p50_us", "p90_us", "p99_us"] {
        assert!(summary[key].is_number(), "{key} missing in {summary}");
    }
}

#[test]
fn load_with_a_connection_per_request_counts_requests_without_errors() {
    let (_server, addr) = start_server();
    let summary = run_load(&addr, &["--new-connection-per-request"]);
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["errors"].as_u64(), Some(0), "{summary}");
    assert_eq!(summary["new_connection_per_request"], true);
}

#[test]
fn a_refused_server_counts_errors_and_stops_by_itself() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let summary = run_load(&format!("127.0.0.1:{port}"), &[]);
    assert_eq!(summary["requests"].as_u64(), Some(0), "{summary}");
    assert!(summary["errors"].as_u64().unwrap() > 0, "{summary}");
}

#[test]
fn http1_and_h2_loads_count_requests_without_errors() {
    let (_server, addr) = start("serve-http");
    for protocol in ["http1", "h2"] {
        let summary = run_load(&addr, &["--protocol", protocol]);
        assert_eq!(summary["protocol"], protocol, "{summary}");
        assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
        assert_eq!(summary["errors"].as_u64(), Some(0), "{summary}");
        assert!(
            summary["p999_us"].is_number(),
            "p999_us missing in {summary}"
        );
    }
}

#[test]
fn http_answers_other_than_2xx_count_as_errors() {
    let (_server, addr) = start("serve-http");
    let summary = run_load(&addr, &["--protocol", "h2", "--path", "/status/503"]);
    assert_eq!(summary["requests"].as_u64(), Some(0), "{summary}");
    assert!(summary["errors"].as_u64().unwrap() > 0, "{summary}");
}

#[test]
fn a_fixed_rate_never_sends_more_than_asked() {
    let (_server, addr) = start("serve-http");
    let summary = run_load(&addr, &["--protocol", "http1", "--rate", "100"]);
    let requests = summary["requests"].as_u64().unwrap();
    // 100 requests/s for the 1 s measured (plus one turn per connection at the edge).
    assert!(requests > 0 && requests <= 102, "{summary}");
    assert_eq!(summary["rate"].as_f64(), Some(100.0), "{summary}");
}
