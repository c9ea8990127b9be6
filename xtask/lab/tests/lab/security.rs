//! Privileged lab tests of the capture's trust boundary, with real eBPF and two agents: a port
//! the app keeps on loopback stays private through the mesh, and no socket option a pod can set
//! (a mark) lets its connections escape capture.

use crate::mesh_support::{counters, curl, mesh_lab_of, pod_ip};
use crate::support::{stdout, TestLab};

const CLUSTER: &str = "lab-security.yaml";
/// The clients: meshed on the app's node (same-node path), meshed across nodes (inbound hop),
/// and outside the mesh (captured only by the app pod's `sk_lookup`).
const CLIENTS: [(&str, &str); 3] = [("sec", "near"), ("sec", "far"), ("plain", "outsider")];
/// `SO_MARK` the agent used to put on its own sockets; any pod with `CAP_NET_ADMIN` can set it.
const OLD_AGENT_MARK: &str = "1337";

/// A GET of `url` from `client`: `Some((status, body))`, or `None` when no HTTP answer came.
fn get(lab: &TestLab, client: (&str, &str), url: &str) -> Option<(u16, String)> {
    let out = curl(lab, client.0, client.1, &["-w", "\n%{http_code}", url]);
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n')?;
    let code: u16 = code.trim().parse().ok()?;
    (code != 0).then(|| (code, body.to_string()))
}

/// `tcp-client` from `client` to `addr` (extra `args`); whether every echo came back.
fn echo(lab: &TestLab, client: (&str, &str), addr: &str, args: &[&str]) -> bool {
    let mut argv = vec!["sample-app", "tcp-client", "--addr", addr];
    argv.extend_from_slice(args);
    lab.exec(client.0, client.1, &argv).status.success()
}

#[test]
fn a_loopback_only_port_stays_private_through_the_mesh() {
    let Some(lab) = mesh_lab_of("t-sec-lo", 2, CLUSTER) else {
        return;
    };
    let app = pod_ip(&lab, "sec/app");
    let public = format!("http://{app}:8080/");
    for client in CLIENTS {
        lab.exec_until_ok(client.0, client.1, &["curl", "-fsS", "-m", "5", &public]);
        let (status, body) = get(&lab, client, &public).expect("the public port answers");
        assert_eq!(status, 200, "{client:?}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        // The app sees its own pod IP as the source, never 127.0.0.1.
        let peer = answer["peer"].as_str().unwrap_or_default();
        assert!(!peer.starts_with("127."), "{client:?}: the app saw {peer}");

        let private = format!("http://{app}:9999/");
        if let Some((status, body)) = get(&lab, client, &private) {
            assert!(
                status != 200 && !body.contains("\"admin\""),
                "{client:?}: the loopback-only port answered {status}: {body}"
            );
        }
        assert!(
            echo(&lab, client, &format!("{app}:7000"), &[]),
            "{client:?}"
        );
        assert!(
            !echo(&lab, client, &format!("{app}:7001"), &[]),
            "{client:?}: the loopback-only TCP port echoed"
        );
    }
}

#[test]
fn a_pod_socket_carrying_the_old_agent_mark_is_still_captured() {
    let Some(lab) = mesh_lab_of("t-sec-mark", 2, CLUSTER) else {
        return;
    };
    let app = pod_ip(&lab, "sec/app");
    let addr = format!("{app}:7000");
    let near = CLIENTS[0];
    lab.exec_until_ok(
        near.0,
        near.1,
        &["sample-app", "tcp-client", "--addr", &addr],
    );
    let before = counters(&lab, "node-1");
    let marked = ["--mark", OLD_AGENT_MARK, "--connections", "3"];
    assert!(
        echo(&lab, near, &addr, &marked),
        "marked connections failed"
    );
    let after = counters(&lab, "node-1");
    assert_eq!(
        after.outbound - before.outbound,
        3,
        "captured by the connect hook"
    );
    assert_eq!(
        after.opened_source - before.opened_source,
        3,
        "proxied and reported by the agent"
    );
}
