//! Privileged: the same-node fast path. Two enrolled pods, each in its own `ip netns add`
//! namespace with only `lo` (no link between them, so the pod IPs are unreachable the normal
//! way): an outbound connection from one to the other's IP reaches the app on that IP, from
//! inside the other's netns, only through the fast path, and both reporters count and log it. Needs root; no
//! eBPF (fake capture layer).

use std::sync::Arc;

use mesh_agent::access_log::{AccessLog, AccessLogEntry, AccessLogMetrics};
use mesh_agent::net::Netns;
use mesh_agent::net::{connect, listen, UpstreamSockets};
use mesh_agent::proxy::{LocalPods, ProxyInputs};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::config::compile;
use crate::harness::enrollment::to_enroll;
use crate::harness::namespaced::netns::TestNetns;
use crate::harness::namespaced::{running_as_root_for, unique_name};
use crate::harness::proxy::{exchange, Agent, EnrolledPods, FakePodCapture, ListenAddrs};
use crate::harness::{metrics, GUARD};

/// The destination pod's IP, on its own netns's `lo` only (no route to it from the client's).
const SERVER_IP: &str = "10.244.1.6";
/// The destination app's port (it listens on its pod's IP).
const APP_PORT: u16 = 7000;

/// What one connection from the client pod left behind.
struct Run {
    /// What came back (`None` when the connection failed or was reset).
    answer: Option<Vec<u8>>,
    registry: Registry,
    /// Access-log lines (logging on, every connection kept).
    logged: Vec<AccessLogEntry>,
}

/// Two pods enrolled with the fast path on or off; the client pod's connection, sent `ping`.
async fn client_to_server(fast_path: bool) -> Run {
    let tag = if fast_path { "on" } else { "off" };
    let client_ns = TestNetns::new(&unique_name(&format!("mesh-same-c{tag}")));
    let server_ns = TestNetns::new(&unique_name(&format!("mesh-same-s{tag}")));
    server_ns.ip(&["addr", "add", &format!("{SERVER_IP}/32"), "dev", "lo"]);
    let Agent {
        inputs,
        dsts,
        mut registry,
    } = Agent::new(compile(""));
    let inputs = Arc::new(ProxyInputs {
        local_pods: LocalPods::new(fast_path),
        tunnels: None,
        ..Arc::into_inner(inputs).expect("the only reference")
    });
    let (log, mut lines) = AccessLog::bounded(16, &AccessLogMetrics::default());
    inputs.http.observers.set_access_log(Some(log));
    let pods = EnrolledPods::new(
        Arc::new(FakePodCapture::default()),
        inputs,
        ListenAddrs::default(),
        &mut registry,
    );
    let add = |name: &str, ns: &TestNetns, ip: &str| to_enroll("shop", name, &ns.path(), ip);
    let client = pods.add(add("client-0", &client_ns, "10.244.1.5")).await;
    let client = client.expect("client enrolled");
    pods.add(add("web-0", &server_ns, SERVER_IP))
        .await
        .expect("server enrolled");

    let server_netns = Netns::open(server_ns.path().as_ref()).unwrap();
    serve_app(&server_netns).await;
    let original = format!("{SERVER_IP}:{APP_PORT}").parse().unwrap();
    dsts.insert_any_port(client.netns_cookie, original);
    let client_netns = Netns::open(client_ns.path().as_ref()).unwrap();
    let sockets = UpstreamSockets {
        connect_timeout: GUARD,
    };
    let stream = connect(&client_netns, "127.0.0.1:15001".parse().unwrap(), &sockets)
        .await
        .unwrap();
    let answer = tokio::time::timeout(GUARD, exchange(stream, b"ping"))
        .await
        .expect("no hang");
    let answer = answer.ok().filter(|a| !a.is_empty());
    let mut logged = Vec::new();
    // A connection that went through is logged by both reporters once it has ended.
    while answer.is_some() && logged.len() < 2 {
        match tokio::time::timeout(GUARD, lines.recv()).await {
            Ok(Some(entry)) => logged.push(entry),
            _ => break,
        }
    }
    pods.remove_all().await;
    Run {
        answer,
        registry,
        logged,
    }
}

/// The app: answers `web:<input>` once, on `SERVER_IP:7000` inside `netns`.
async fn serve_app(netns: &Netns) {
    let addr = format!("{SERVER_IP}:{APP_PORT}").parse().unwrap();
    let app = listen(netns, addr).await.unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = app.accept().await.unwrap();
        let mut input = Vec::new();
        stream.read_to_end(&mut input).await.unwrap();
        let answer = [b"web:".as_slice(), &input].concat();
        stream.write_all(&answer).await.unwrap();
    });
}

/// `istio_tcp_connections_opened_total` lines of `registry`.
fn opened_lines(registry: &Registry) -> Vec<String> {
    let text = metrics::text(registry);
    text.lines()
        .filter(|l| l.starts_with("istio_tcp_connections_opened_total{"))
        .map(str::to_string)
        .collect()
}

fn skip_without_root() -> bool {
    !running_as_root_for("(ip netns add, setns)")
}

#[tokio::test]
async fn a_local_destination_is_dialled_on_its_pod_ip_and_both_reporters_count_it() {
    if skip_without_root() {
        return;
    }
    let Run {
        answer,
        registry,
        logged,
    } = client_to_server(true).await;
    assert_eq!(answer.as_deref(), Some(b"web:ping".as_slice()));
    let opened = opened_lines(&registry);
    for reporter in ["source", "destination"] {
        let wanted = format!(r#"reporter="{reporter}""#);
        let line = opened.iter().find(|l| l.contains(&wanted));
        let line = line.unwrap_or_else(|| panic!("no {reporter} line in {opened:#?}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
    // The skipped inbound side names its own pod even when the configuration does not.
    let inbound = opened
        .iter()
        .find(|l| l.contains(r#"reporter="destination""#));
    assert!(inbound.unwrap().contains(r#"destination_workload="web""#));
    let mut reporters: Vec<&str> = logged.iter().map(|e| e.reporter.as_str()).collect();
    reporters.sort();
    assert_eq!(reporters, ["destination", "source"], "{logged:#?}");
    for entry in &logged {
        assert_eq!(entry.protocol, "TCP");
        assert_eq!(
            (entry.bytes_received, entry.bytes_sent),
            (4, 8),
            "{entry:?}"
        );
    }
    let inbound = logged.iter().find(|e| e.reporter == "destination").unwrap();
    assert_eq!(inbound.destination_workload.as_deref(), Some("web"));
}

#[tokio::test]
async fn without_the_fast_path_the_connection_takes_the_pod_network() {
    if skip_without_root() {
        return;
    }
    // The pods' netns have no link: dialled from the client's netns, the server's IP is
    // unreachable, so the connection fails.
    let Run {
        answer, registry, ..
    } = client_to_server(false).await;
    assert_eq!(answer, None);
    let opened = opened_lines(&registry);
    assert!(opened.is_empty(), "{opened:#?}");
}
