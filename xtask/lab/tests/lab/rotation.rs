//! Certificate rotation under traffic with real eBPF: the agents ask the lab's CA for short-lived
//! workload certificates (`lab up --cert-ttl-secs`), renewed every few seconds, while a
//! long-lived TCP connection, kept-alive HTTP connections and a new connection per request
//! cross the nodes in the mTLS tunnel. Both sides' serials change at least twice (`/certs`) and
//! nothing fails.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::mesh_support::{admin, pod_ip, require_built};
use crate::support::{stdout, TestLab};
use mesh_lab::lab::ExecTarget;

const LAB: &str = "t-rotation";
const CLUSTER: &str = "lab-mtls.yaml";
const CLIENT: (&str, &str) = ("tls", "client");
/// The certificates' lifetime: the CA backdates each by a minute (clock skew), so half of its
/// whole validity comes 4 s after it is issued — a renewal every ~4 s.
const CERT_TTL_SECS: u64 = 68;
/// How long the traffic runs: three renewals or more of each certificate.
const TRAFFIC_SECS: u64 = 14;

/// A command in the client pod (node-2), started in the background, its output piped.
fn in_client(lab: &TestLab, script: &str) -> Child {
    let target = ExecTarget::Pod {
        namespace: CLIENT.0.into(),
        name: CLIENT.1.into(),
    };
    let mut cmd: Command = lab.command(&target, &["bash", "-c", script]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("starting a command in the client pod")
}

/// One TCP connection to `addr` (`ip/port`) sending `lines` numbered lines 100 ms apart, each
/// read back within 5 s; prints `CONNECTED` after the first, then `OK` or where it broke.
fn stream_script(addr: &str, lines: u64) -> String {
    format!(
        "exec 3<>/dev/tcp/{addr} || exit 2; \
         for i in $(seq 1 {lines}); do echo \"line-$i\" >&3; \
         read -r -t 5 got <&3 || {{ echo \"BROKEN at $i: no echo\"; exit 1; }}; \
         [ \"$got\" = \"line-$i\" ] || {{ echo \"BROKEN at $i: got $got\"; exit 1; }}; \
         [ $i -eq 1 ] && echo CONNECTED; sleep 0.1; done; echo OK"
    )
}

/// The serial of `identity`'s certificate on `node` now (`None`: not listed or not signed).
fn serial(lab: &TestLab, node: &str, identity: &str) -> Option<String> {
    let certs: serde_json::Value = serde_json::from_str(&admin(lab, node, "/certs")).ok()?;
    let listed = certs["certificates"].as_array()?;
    let cert = listed.iter().find(|c| c["identity"] == identity)?;
    cert["serial"].as_str().map(str::to_owned)
}

#[test]
fn certificates_rotate_under_traffic_without_dropping_a_connection() {
    let Some(lab) = TestLab::new(LAB) else {
        return;
    };
    require_built();
    lab.up_with_cert_ttl(2, &[CLUSTER], CERT_TTL_SECS);
    let app = pod_ip(&lab, "tls/app");
    let url = format!("http://{app}:8080/");
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", &url]);
    let lines = TRAFFIC_SECS * 10;
    let mut stream = in_client(&lab, &stream_script(&format!("{app}/7000"), lines));
    let mut first = String::new();
    let mut out = BufReader::new(stream.stdout.take().expect("piped"));
    out.read_line(&mut first).expect("the stream's first line");
    assert_eq!(first.trim(), "CONNECTED", "the stream did not start");
    let load = |extra: &str| {
        let addr = format!("{app}:8080");
        in_client(
            &lab,
            &format!(
                "mesh-load --addr {addr} --protocol http1 --rate 40 --connections 4 \
                 --duration {TRAFFIC_SECS}s {extra}"
            ),
        )
    };
    let runs = [load(""), load("--new-connection-per-request")];
    // Both ends' certificates: the client's on node-2, the app's on node-1.
    let watched = [
        ("node-2", "spiffe://cluster.local/ns/tls/sa/client"),
        ("node-1", "spiffe://cluster.local/ns/tls/sa/app"),
    ];
    let mut serials = vec![BTreeSet::new(); watched.len()];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(TRAFFIC_SECS) {
        for ((node, identity), seen) in watched.iter().zip(&mut serials) {
            seen.extend(serial(&lab, node, identity));
        }
        sleep(Duration::from_millis(500));
    }
    for ((node, identity), seen) in watched.iter().zip(&serials) {
        eprintln!(
            "measured: {identity} on {node}: {} serials in {TRAFFIC_SECS} s",
            seen.len()
        );
        assert!(
            seen.len() >= 3,
            "{identity} on {node} was renewed fewer than twice: {seen:?}"
        );
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the stream's output");
    let passed = stream.wait().expect("waiting for the stream").success();
    assert!(
        passed,
        "the long-lived connection broke across renewals:\n{rest}"
    );
    for run in runs {
        let out = run.wait_with_output().expect("waiting for the load");
        let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        eprintln!("measured: load across renewals: {}", text.trim());
        let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim())
            .unwrap_or_else(|e| panic!("not a mesh-load summary ({e}): {text}"));
        assert!(summary["requests"].as_u64() > Some(100), "{text}");
        assert_eq!(
            summary["errors"], 0,
            "requests failed across renewals: {text}"
        );
        assert!(out.status.success(), "{text}");
    }
}
