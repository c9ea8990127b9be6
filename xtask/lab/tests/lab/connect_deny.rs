//! Connect-time denial with real eBPF: a client whose namespace the destination's
//! AuthorizationPolicy leaves out is refused in `connect()` on its own node — curl's connect
//! fails at once (exit 7), for the Service's ClusterIP and the pod's IP alike, node-1's
//! `mesh_ebpf_authz_refused_total` counts it, and the destination node's agent sees no
//! connection from it — while a client of an allowed namespace is served across the nodes.

use std::time::{Duration, Instant};

use crate::mesh_support::{curl, mesh_lab_of, metrics, pod_ip, sum};
use crate::support::{stdout, TestLab};

const CLUSTER: &str = "lab-connect-deny.yaml";
const FRIEND: (&str, &str) = ("friends", "friend");
const INTRUDER: (&str, &str) = ("intruders", "intruder");

/// curl from `client` to `url`: its exit code, the status code it printed, how long it took.
fn attempt(lab: &TestLab, client: (&str, &str), url: &str) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let args = ["-o", "/dev/null", "-w", "%{http_code}", url];
    let out = curl(lab, client.0, client.1, &args);
    (out.status.code(), stdout(&out), started.elapsed())
}

/// Connections and requests node-2's agent saw from the intruders' namespace.
fn seen_at_destination(lab: &TestLab) -> u64 {
    let text = metrics(lab, "node-2");
    let from = r#"source_workload_namespace="intruders""#;
    sum(&text, "istio_tcp_connections_opened_total", from)
        + sum(&text, "istio_requests_total", from)
}

#[test]
fn a_connect_time_denial_never_reaches_the_destination_node() {
    let Some(lab) = mesh_lab_of("t-connect-deny", 2, CLUSTER) else {
        return;
    };
    let service = "http://safe.vault/";
    lab.exec_until_ok(FRIEND.0, FRIEND.1, &["curl", "-fsS", "-m", "5", service]);
    // The source's agent writes its denials within a second of the configuration and enrollment.
    let mut last = None;
    for _ in 0..40 {
        let tried = attempt(&lab, INTRUDER, service);
        if tried.0 == Some(7) {
            break;
        }
        last = Some(tried);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        attempt(&lab, INTRUDER, service).0,
        Some(7),
        "never refused: {last:?}"
    );

    let seen = seen_at_destination(&lab);
    let refused = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_authz_refused_total",
        "",
    );
    let pod = format!("http://{}:8080/", pod_ip(&lab, "vault/safe"));
    for url in [service, pod.as_str(), service, pod.as_str()] {
        let (exit, code, took) = attempt(&lab, INTRUDER, url);
        eprintln!("refused in connect(): {url} exit {exit:?} in {took:?}");
        assert_eq!((exit, code.as_str()), (Some(7), "000"), "{url}");
        assert!(
            took < Duration::from_secs(2),
            "{url}: refused at once, not {took:?}"
        );
    }
    let counted = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_authz_refused_total",
        "",
    );
    assert!(
        counted >= refused + 4,
        "the hook counted its refusals: {refused} → {counted}"
    );
    assert_eq!(
        seen_at_destination(&lab),
        seen,
        "node-2's agent saw none of them"
    );
    let (exit, code, _) = attempt(&lab, FRIEND, service);
    assert_eq!(
        (exit, code.as_str()),
        (Some(0), "200"),
        "the friend is still served"
    );
}
