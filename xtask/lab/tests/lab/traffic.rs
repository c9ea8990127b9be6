//! Traffic management in the lab with real eBPF: one two-node lab walks through a 50/50 split,
//! an abort fault, a delay fault and a mirror by applying VirtualServices in turn; a second one
//! checks HTTP/2 (prior knowledge), a WebSocket upgrade and a server-first TCP protocol through
//! the mesh.

use crate::mesh_support::{mesh_lab_of, metrics};
use crate::support::{ok, stdout, TestLab};
use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

const CLIENT: (&str, &str) = ("shop", "client");
const URL: &str = "http://backend/";
/// A WebSocket upgrade to the `upgrade` Service, then `ping` over the upgraded connection.
const UPGRADE: &str = r#"
import socket
c = socket.create_connection(("upgrade", 80), timeout=5)
c.sendall(b"GET /chat HTTP/1.1\r\nHost: upgrade\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    chunk = c.recv(4096)
    if not chunk:
        raise SystemExit("closed before the answer's head")
    head += chunk
c.sendall(b"ping")
print(head.split(b"\r\n")[0].decode(), "|", c.recv(100).decode())
"#;

/// One request's outcome as curl saw it.
struct Answer {
    /// The answering backend version (`None`: not a backend answer).
    version: Option<String>,
    code: String,
    seconds: f64,
}

/// `count` requests to the backend in ONE curl run in the client pod (`extra` curl options).
fn batch(lab: &TestLab, extra: &[&str], count: usize) -> Vec<Answer> {
    let mut argv = vec![
        "curl",
        "-sS",
        "-m",
        "5",
        "-w",
        "\tcode=%{http_code} %{time_total}\n",
    ];
    argv.extend_from_slice(extra);
    argv.extend(std::iter::repeat_n(URL, count));
    let out = stdout(&lab.exec(CLIENT.0, CLIENT.1, &argv));
    let answers: Vec<Answer> = out.lines().filter_map(answer).collect();
    assert_eq!(answers.len(), count, "{out}");
    answers
}

/// Reads `BODY<tab>code=CODE SECONDS`.
fn answer(line: &str) -> Option<Answer> {
    let (body, written) = line.rsplit_once("\tcode=")?;
    let (code, seconds) = written.split_once(' ')?;
    let body = serde_json::from_str::<serde_json::Value>(body).ok();
    Some(Answer {
        version: body.and_then(|b| b["version"].as_str().map(str::to_string)),
        code: code.to_string(),
        seconds: seconds.parse().ok()?,
    })
}

/// The answering versions of `count` requests (a request answered by no backend counts as its
/// status code).
fn versions(lab: &TestLab, count: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for answer in batch(lab, &[], count) {
        *seen
            .entry(answer.version.unwrap_or(answer.code))
            .or_default() += 1;
    }
    seen
}

/// Applies `file` and polls (bounded) until 20 requests in a row satisfy `settled`.
fn apply_until(lab: &TestLab, file: &str, settled: impl Fn(&BTreeMap<String, usize>) -> bool) {
    lab.kubectl("apply", file);
    let mut last = BTreeMap::new();
    for _ in 0..40 {
        last = versions(lab, 20);
        if settled(&last) {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{file} never took effect: last {last:?}");
}

/// The sum of the samples of `series` whose line holds every one of `with`.
fn sum_of(text: &str, series: &str, with: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{series}{{")) && with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Requests backend v2 has been reported receiving: by node-2's agent when it parses them, by
/// the client's (node-1) when node-2 carries them at L4 (L7 once per request); never both.
fn seen_by_v2(lab: &TestLab) -> u64 {
    let with = ["reporter=\"destination\"", "destination_version=\"v2\""];
    let nodes = ["node-1", "node-2"].map(|node| metrics(lab, node));
    nodes
        .iter()
        .map(|text| sum_of(text, "istio_requests_total", &with))
        .sum()
}

/// Polls `read` (bounded) until it gives the same figure twice, a second apart.
fn steady(read: impl Fn() -> u64) -> u64 {
    let mut last = read();
    for _ in 0..20 {
        sleep(Duration::from_secs(1));
        let now = read();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[test]
fn splits_faults_and_mirrors_shape_live_traffic() {
    let Some(lab) = mesh_lab_of("t-traffic", 2, "lab-routing.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    let only = |v: &'static str| move |seen: &BTreeMap<String, usize>| seen.keys().eq([v]);

    // 50/50: from all-to-v2 (to see the split arrive) to 400 requests near half each.
    apply_until(&lab, "lab-routing-all-v2.yaml", only("v2"));
    apply_until(&lab, "lab-traffic-split.yaml", |s| s.contains_key("v1"));
    let split = versions(&lab, 400);
    eprintln!("50/50 split over 400 requests: {split:?}");
    for version in ["v1", "v2"] {
        let share = split.get(version).copied().unwrap_or(0);
        assert!((160..=240).contains(&share), "{version}: {split:?}");
    }

    // Abort 30% with 500: about 30% get 500, flagged FI by the source agent (node-1).
    apply_until(&lab, "lab-traffic-abort.yaml", |s| !s.contains_key("v2"));
    let aborted = versions(&lab, 200);
    eprintln!("abort at 30% over 200 requests: {aborted:?}");
    let fives = aborted.get("500").copied().unwrap_or(0);
    assert!((30..=90).contains(&fives), "{aborted:?}");
    assert_eq!(aborted.get("v1").copied().unwrap_or(0) + fives, 200);
    let flagged = ["reporter=\"source\"", "response_flags=\"FI\""];
    let fi = sum_of(&metrics(&lab, "node-1"), "istio_requests_total", &flagged);
    assert!(fi >= fives as u64, "FI-flagged {fi} < aborted {fives}");

    // Delay 1 s at 30%: count the requests curl measured at 1 s or more.
    apply_until(&lab, "lab-traffic-delay.yaml", |s| !s.contains_key("500"));
    // Binomial(60, 0.3): 5..=33 holds with probability 1 - 3e-5 (6..=18 of 40 failed 1 run in 43).
    let delayed = batch(&lab, &[], 60);
    let slow = delayed.iter().filter(|a| a.seconds >= 1.0).count();
    eprintln!("delay 1s at 30% over 60 requests: {slow} took 1 s or more");
    assert!(delayed.iter().all(|a| a.code == "200"));
    assert!((5..=33).contains(&slow), "{slow} of 60 delayed");

    // Mirror to v2 while routing to v1: v2 sees each request once, clients only see v1.
    apply_until(&lab, "lab-routing-all-v2.yaml", only("v2"));
    apply_until(&lab, "lab-traffic-mirror.yaml", only("v1"));
    let before = steady(|| seen_by_v2(&lab));
    let answers = versions(&lab, 50);
    assert_eq!(answers, BTreeMap::from([("v1".to_string(), 50)]));
    let mirrored = steady(|| seen_by_v2(&lab)) - before;
    eprintln!("mirror: 50 primary requests, {mirrored} seen by v2");
    assert_eq!(mirrored, 50, "v2 saw {mirrored} mirrored requests");
}

#[test]
fn http2_a_websocket_upgrade_and_a_server_first_protocol_pass_through_the_mesh() {
    let Some(lab) = mesh_lab_of("t-protocols", 2, "lab-routing.yaml") else {
        return;
    };
    lab.kubectl("apply", "lab-traffic-protocols.yaml");
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);

    let h2 = [
        "--http2-prior-knowledge",
        "-sS",
        "-m",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{http_version}",
        URL,
    ];
    let mut argv = vec!["curl"];
    argv.extend_from_slice(&h2);
    let out = stdout(&lab.exec(CLIENT.0, CLIENT.1, &argv));
    eprintln!("h2c prior knowledge: {out:?}");
    assert_eq!(out, "200 2");

    let out = lab.exec_until_ok(CLIENT.0, CLIENT.1, &["python3", "-c", UPGRADE]);
    let upgraded = stdout(&out);
    eprintln!("websocket upgrade: {upgraded:?}");
    assert_eq!(upgraded.trim(), "HTTP/1.1 101 Switching Protocols | ping");

    let banner = "import socket; c = socket.create_connection(('banner', 3306), timeout=5); \
                  print(c.recv(100).decode().strip())";
    let out = lab.exec_until_ok(CLIENT.0, CLIENT.1, &["python3", "-c", banner]);
    assert_eq!(stdout(&ok(out)).trim(), "hello from banner");
}
