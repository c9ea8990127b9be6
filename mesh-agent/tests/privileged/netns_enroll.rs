//! Privileged: enrolling a pod whose netns was made with `ip netns add` creates the capture
//! listeners inside that netns, its outbound connections are proxied from inside it, and
//! removing the pod closes the listeners. The netns checks: a netns that does not hold the
//! pod's IP and the agent's own netns are refused. Needs root; no eBPF (fake capture layer).

use mesh_agent::net::Netns;
use mesh_agent::net::{connect, listen, UpstreamSockets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::config::compile;
use crate::harness::enrollment::{add_line, namespace, node_pod, Setup, TestEnrollment};
use crate::harness::namespaced::netns::TestNetns;
use crate::harness::namespaced::{running_as_root_for, unique_name};
use crate::harness::proxy::exchange;
use crate::harness::{TempDir, GUARD};

/// Pod IPs of these tests (on `lo` of their netns).
const WEB_IP: &str = "10.253.1.5";

fn ambient_shop(state: &TempDir) -> TestEnrollment {
    let view = [
        namespace("shop", "istio.io/dataplane-mode: ambient"),
        node_pod("shop", "web-0", "app: web", ""),
    ];
    Setup::new(compile(&view.concat()), state).start()
}

fn pod_netns(tag: &str, ip: Option<&str>) -> TestNetns {
    let netns = TestNetns::new(&unique_name(tag));
    if let Some(ip) = ip {
        netns.ip(&["addr", "add", &format!("{ip}/32"), "dev", "lo"]);
    }
    netns
}

#[tokio::test]
async fn add_creates_listeners_inside_the_pod_netns_and_remove_closes_them() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let pod_netns = pod_netns("mesh-enroll", Some(WEB_IP));
    let state = TempDir::new("enroll-netns");
    let enrollment = ambient_shop(&state);
    let added = enrollment
        .handle(&add_line("shop", "web-0", &pod_netns.path(), WEB_IP))
        .await;
    assert!(added.ok, "{added:?}");
    let cookie = added.pod.unwrap().netns_cookie;
    let own_cookie = Netns::current().unwrap().cookie().await.unwrap();
    assert_ne!(cookie, own_cookie, "the cookie is the pod netns's");
    let listening = pod_netns.listening();
    assert!(listening.contains("127.0.0.1:15001"), "{listening}");
    assert!(listening.contains("0.0.0.0:15006"), "{listening}");

    // An app in the pod connects (to the outbound listener, as connect4 would redirect it);
    // the agent dials the original destination from inside the pod netns.
    let netns = Netns::open(pod_netns.path().as_ref()).unwrap();
    let app_server = listen(&netns, "127.0.0.1:7000".parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = app_server.accept().await.unwrap();
        let mut input = Vec::new();
        stream.read_to_end(&mut input).await.unwrap();
        stream
            .write_all(&[b"in-pod:".as_slice(), &input].concat())
            .await
            .unwrap();
    });
    let dsts = enrollment.dsts.clone();
    dsts.insert_any_port(cookie, "127.0.0.1:7000".parse().unwrap());
    let sockets = UpstreamSockets {
        connect_timeout: GUARD,
    };
    let client = connect(&netns, "127.0.0.1:15001".parse().unwrap(), &sockets)
        .await
        .unwrap();
    let answer = tokio::time::timeout(GUARD, exchange(client, b"ping"))
        .await
        .expect("no hang");
    assert_eq!(answer.unwrap(), b"in-pod:ping");

    let removed = enrollment
        .handle(r#"{"op":"remove","namespace":"shop","name":"web-0"}"#)
        .await;
    assert!(removed.ok, "{removed:?}");
    assert!(enrollment.capture.enrolled.lock().unwrap().is_empty());
    let listening = pod_netns.listening();
    assert!(
        !listening.contains(":15001") && !listening.contains(":15006"),
        "{listening}"
    );
}

#[tokio::test]
async fn a_netns_without_the_pod_ip_is_refused() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let foreign = pod_netns("mesh-foreign", Some("10.253.1.99"));
    let state = TempDir::new("enroll-foreign");
    let enrollment = ambient_shop(&state);
    let refused = enrollment
        .handle(&add_line("shop", "web-0", &foreign.path(), WEB_IP))
        .await;
    assert_eq!(
        refused.error.as_deref(),
        Some(
            format!(
                "pod shop/web-0: netns {} holds none of the pod's IPs ({WEB_IP})",
                foreign.path()
            )
            .as_str()
        )
    );
    assert!(enrollment.capture.enrolled.lock().unwrap().is_empty());
    assert!(foreign.listening().is_empty(), "no listener left behind");
}

#[tokio::test]
async fn the_agents_own_netns_is_refused() {
    if !running_as_root_for("(setns)") {
        return;
    }
    let state = TempDir::new("enroll-own");
    let enrollment = ambient_shop(&state);
    let own = add_line("shop", "web-0", "/proc/self/ns/net", "127.0.0.1");
    let refused = enrollment.handle(&own).await;
    assert_eq!(
        refused.error.as_deref(),
        Some("pod shop/web-0: netns /proc/self/ns/net is the agent's own network namespace")
    );
    let metrics = mesh_agent::metrics::encode(&enrollment.registry).unwrap();
    let line = r#"mesh_enrollment_failures_total{reason="netns_refused"} 1"#;
    assert!(metrics.contains(line), "{metrics}");
}
