//! The agent's drain with real eBPF: `lab agent stop` (SIGTERM) while a slow request is in
//! flight through the mesh — the request completes, then the agent exits and the pods talk
//! directly; `/healthz/live` answers on the readiness port while the agent runs.

use crate::mesh_support::{agent_pids, mesh_lab_of, pod_ip};
use crate::poison::{CLIENT, URL};
use crate::support::{ok, stdout, TestLab};
use std::thread::sleep;
use std::time::{Duration, Instant};

const NODE: &str = "node-1";

/// `GET 127.0.0.1:15021<path>` in the node's netns: the status code curl saw.
fn health(lab: &TestLab, path: &str) -> String {
    let url = format!("http://127.0.0.1:15021{path}");
    let argv = [
        "curl",
        "-sS",
        "-m",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url,
    ];
    stdout(&lab.exec_node(NODE, &argv))
}

#[test]
fn sigterm_lets_a_request_in_flight_complete() {
    let Some(lab) = mesh_lab_of("t-drain", 1, "lab-poison.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    assert_eq!(health(&lab, "/healthz/live"), "200");
    assert_eq!(health(&lab, "/healthz/ready"), "200");

    let slow = format!("{URL}delay/2000");
    let (answer, stopped) = std::thread::scope(|scope| {
        let request = scope.spawn(|| {
            let argv = ["curl", "-sS", "-m", "20", "-w", "\n%{http_code}", &slow];
            lab.exec(CLIENT.0, CLIENT.1, &argv)
        });
        // The request reaches the backend, which holds it 2 s.
        sleep(Duration::from_millis(700));
        let started = Instant::now();
        lab.stop_agent(NODE);
        (request.join().unwrap(), started.elapsed())
    });
    let answer = stdout(&ok(answer));
    eprintln!("agent stopped {stopped:?} after SIGTERM; the slow request answered {answer:?}");
    assert!(
        answer.ends_with("\n200"),
        "the request in flight completes: {answer:?}"
    );
    assert!(answer.contains("backend"), "{answer:?}");
    assert!(agent_pids(&lab, NODE).is_empty(), "the agent is gone");
    // Fail open: the pods talk directly once the agent is gone (no agent, no ClusterIP).
    let backend = format!("http://{}:8080/", pod_ip(&lab, "shop/backend-v1-0"));
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", &backend]);
}
