//! The mTLS tunnel with real eBPF and two agents holding their pods' certificates from the
//! lab's CA: bytes between the nodes are TLS on the tunnel port (a capture on the lab's fabric
//! sees no application payload), metrics carry `mutual_tls` and the certificates' principals;
//! PERMISSIVE (no policy) lets a client outside the mesh in, STRICT closes it before the app
//! and counts it `DENY`, while the meshed client still gets through.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::mesh_support::{curl, mesh_lab_of, metrics, pod_ip, sum};
use crate::support::{data, stdout, TestLab};

const CLUSTER: &str = "lab-mtls.yaml";
const MESHED: (&str, &str) = ("tls", "client");
const OUTSIDER: (&str, &str) = ("plain", "outsider");
/// What the meshed client sends: it must never cross the fabric in clear.
const NEEDLE: &str = "mesh-tunnel-needle-7c1f2a";

/// The HTTP status `client` gets for `url` (0: no HTTP answer).
fn status(lab: &TestLab, client: (&str, &str), url: &str) -> u16 {
    let out = curl(
        lab,
        client.0,
        client.1,
        &["-o", "/dev/null", "-w", "%{http_code}", url],
    );
    stdout(&out).trim().parse().unwrap_or(0)
}

/// Runs `traffic` while capturing every frame on the lab's fabric; the capture's JSON summary.
fn captured_during(lab: &TestLab, traffic: impl FnOnce()) -> serde_json::Value {
    let fabric = format!("{}-fabric", lab.name);
    let script = data("fabric-capture.py");
    let mut capture = Command::new("ip")
        .args(["netns", "exec", &fabric, "python3"])
        .arg(&script)
        .args(["8", NEEDLE])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the capture");
    let mut lines = BufReader::new(capture.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("the capture starts").unwrap();
    assert!(ready.contains("ready"), "{ready}");
    traffic();
    let summary = lines.next().expect("the capture ends").unwrap();
    capture.wait().unwrap();
    serde_json::from_str(&summary).unwrap()
}

#[test]
fn bytes_between_nodes_are_tls_and_metrics_carry_the_certificates_principals() {
    let Some(lab) = mesh_lab_of("t-mtls-wire", 2, CLUSTER) else {
        return;
    };
    let app = pod_ip(&lab, "tls/app");
    let echo = format!("{app}:7000");
    let send = [
        "sample-app",
        "tcp-client",
        "--addr",
        &echo,
        "--message",
        NEEDLE,
    ];
    lab.exec_until_ok(MESHED.0, MESHED.1, &send);
    let summary = captured_during(&lab, || {
        let argv = [&send[..], &["--connections", "5"]].concat();
        assert!(lab.exec(MESHED.0, MESHED.1, &argv).status.success());
    });
    assert_eq!(summary["needle"], 0, "payload seen in clear: {summary}");
    assert!(
        summary["tunnel"].as_u64() > Some(0),
        "no tunnel traffic: {summary}"
    );
    let text = metrics(&lab, "node-1");
    let tunnelled = "connection_security_policy=\"mutual_tls\"";
    let from_client = "source_principal=\"spiffe://cluster.local/ns/tls/sa/client\"";
    let to_app = "destination_principal=\"spiffe://cluster.local/ns/tls/sa/app\"";
    let series = "istio_tcp_connections_opened_total";
    let opened: Vec<&str> = text.lines().filter(|l| l.starts_with(series)).collect();
    let mtls = opened
        .iter()
        .filter(|l| l.contains(tunnelled) && l.contains(from_client) && l.contains(to_app));
    assert!(mtls.count() > 0, "no mutual_tls series: {opened:#?}");
}

#[test]
fn strict_closes_plain_text_from_outside_the_mesh_and_lets_the_mesh_in() {
    let Some(lab) = mesh_lab_of("t-mtls-strict", 2, CLUSTER) else {
        return;
    };
    let url = format!("http://{}:8080/", pod_ip(&lab, "tls/app"));
    let curl_ok = ["curl", "-fsS", "-m", "5", url.as_str()];
    lab.exec_until_ok(MESHED.0, MESHED.1, &curl_ok);
    // PERMISSIVE (no policy): both in.
    assert_eq!(status(&lab, OUTSIDER, &url), 200);
    assert_eq!(status(&lab, MESHED, &url), 200);
    lab.kubectl("apply", "lab-mtls-strict.yaml");
    let denied = || {
        sum(
            &metrics(&lab, "node-1"),
            "istio_tcp_connections_opened_total",
            "DENY",
        )
    };
    let mut refused = false;
    for _ in 0..40 {
        if status(&lab, OUTSIDER, &url) == 0 && denied() > 0 {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(refused, "the outsider still gets in under STRICT");
    assert_eq!(
        status(&lab, MESHED, &url),
        200,
        "the meshed client is let in"
    );
}
