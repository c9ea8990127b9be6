//! Istio's local rate limit task in the lab with real eBPF: its EnvoyFilter (4 tokens a
//! minute for each productpage instance, SIDECAR_INBOUND) applied live lets exactly 4 of 10
//! requests through; the rest are answered 429 `local_rate_limited` with the task's
//! `x-local-rate-limit` header, flagged `RL` in Istio's metrics. Per-pod caps: a pod annotated
//! `mesh.io/max-connections: "2"` holding two connections has its third closed at accept
//! (counted `cap="pod"`) while another pod on the node is served. A route descriptor on the
//! client's outbound side limits one `x-user` value while another is served; a client that
//! trickles a request head (slowloris) is cut by the agent's header-read timeout.

use crate::mesh_support::{config_dump_shows, curl, mesh_lab_of, metrics, sum};
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
    let applied = config_dump_shows(&lab, NODE, "filter-local-ratelimit-svc#0");
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

/// Holds two connections to productpage open, then tries a third with a request; prints what
/// the third got (`third <status>` or `third closed`).
const GREEDY: &str = r#"
import socket
held = [socket.create_connection(("productpage", 9080), timeout=5) for _ in range(2)]
third = socket.create_connection(("productpage", 9080), timeout=5)
try:
    third.sendall(b"GET / HTTP/1.1\r\nHost: productpage\r\nConnection: close\r\n\r\n")
    answer = third.recv(100)
    print("third " + (answer.split()[1].decode() if answer else "closed"))
except OSError:
    print("third closed")
"#;

#[test]
fn a_pod_over_its_annotated_connection_cap_is_refused_while_another_pod_is_served() {
    let Some(lab) = mesh_lab_of("t-podcap", 1, "lab-pod-caps.yaml") else {
        return;
    };
    let probe = ["curl", "-fsS", "-m", "5", URL];
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &probe);
    lab.exec_until_ok("default", "greedy", &probe);
    let out = lab.exec("default", "greedy", &["python3", "-c", GREEDY]);
    let printed = stdout(&out);
    assert!(printed.contains("third closed"), "{printed} {out:?}");
    let served = curl(
        &lab,
        CLIENT.0,
        CLIENT.1,
        &["-o", "/dev/null", "-w", "%{http_code}", URL],
    );
    assert_eq!(stdout(&served).trim(), "200", "the client pod is served");
    let text = metrics(&lab, NODE);
    let refused = sum(
        &text,
        "mesh_downstream_connections_refused_total",
        r#"cap="pod""#,
    );
    assert!(refused >= 1, "{refused} refusals counted");
}

/// The status of a GET of [`URL`] from the client with `x-user: user`.
fn status_as(lab: &crate::support::TestLab, user: &str) -> String {
    let header = format!("x-user: {user}");
    let out = curl(
        lab,
        CLIENT.0,
        CLIENT.1,
        &["-o", "/dev/null", "-w", "%{http_code}", "-H", &header, URL],
    );
    stdout(&out).trim().to_string()
}

/// Opens a connection to productpage, sends the start of a request head and then one more
/// header line every 2 s for up to 90 s, never ending the head; prints `cut` when the peer
/// closes the connection, `answered <status>` when it answers, `never cut` otherwise.
const SLOWLORIS: &str = r#"
import socket, time
s = socket.create_connection(("productpage", 9080), timeout=2)
s.sendall(b"GET / HTTP/1.1\r\nHost: productpage\r\n")
verdict = "never cut"
deadline = time.time() + 90
while time.time() < deadline:
    try:
        answer = s.recv(100)
        verdict = "answered " + answer.split()[1].decode() if answer else "cut"
        break
    except socket.timeout:
        pass
    try:
        s.sendall(b"x-trickle: 1\r\n")
    except OSError:
        verdict = "cut"
        break
print(verdict)
"#;

#[test]
fn a_descriptor_limits_one_user_while_another_is_served_and_a_slowloris_is_cut() {
    let Some(lab) = mesh_lab_of("t-rldesc", 1, "lab-rate-limit.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    lab.kubectl("apply", "lab-rate-limit-descriptors.yaml");
    let applied = config_dump_shows(&lab, NODE, "per-user-limit");
    assert!(applied, "the agent never took the EnvoyFilter");
    let alice: Vec<String> = (0..4).map(|_| status_as(&lab, "alice")).collect();
    let bob: Vec<String> = (0..4).map(|_| status_as(&lab, "bob")).collect();
    assert_eq!(alice, ["200", "200", "429", "429"], "alice: 2 a minute");
    assert_eq!(bob, ["200", "200", "200", "200"], "bob: the filter's 100");

    let out = lab.exec(CLIENT.0, CLIENT.1, &["python3", "-c", SLOWLORIS]);
    let verdict = stdout(&out).trim().to_string();
    assert!(
        verdict == "cut" || verdict == "answered 408",
        "a head trickled for 90 s must be cut by the 30 s header-read timeout: {verdict} {out:?}"
    );
}
