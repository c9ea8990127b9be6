//! Privileged: enrolling a pod whose netns was made with `ip netns add` creates the capture
//! listeners inside that netns, its outbound connections are proxied from inside it, and
//! removing the pod closes the listeners. Needs root; no eBPF (fake capture layer).

use std::sync::Arc;

use mesh_agent::enroll::handle;
use mesh_agent::net::Netns;
use mesh_agent::net::{connect, listen, UpstreamSockets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::config::compile;
use crate::harness::namespaced::netns::TestNetns;
use crate::harness::namespaced::{running_as_root_for, unique_name};
use crate::harness::proxy::{exchange, Agent, FakePodCapture, ListenAddrs};
use crate::harness::GUARD;

#[tokio::test]
async fn add_creates_listeners_inside_the_pod_netns_and_remove_closes_them() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let pod_netns = TestNetns::new(&unique_name("mesh-enroll"));
    let mut agent = Agent::new(compile(""));
    let capture = Arc::new(FakePodCapture::default());
    let pods = agent.enrolled_pods(capture.clone(), ListenAddrs::default());
    let dsts = agent.dsts.clone();

    let add = format!(
        r#"{{"op":"add","namespace":"shop","name":"web-0","netns":"{}","ips":["10.244.1.5"]}}"#,
        pod_netns.path()
    );
    let added = handle(&pods, &add).await;
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

    let removed = handle(
        &pods,
        r#"{"op":"remove","namespace":"shop","name":"web-0"}"#,
    )
    .await;
    assert!(removed.ok, "{removed:?}");
    assert!(capture.enrolled.lock().unwrap().is_empty());
    let listening = pod_netns.listening();
    assert!(
        !listening.contains(":15001") && !listening.contains(":15006"),
        "{listening}"
    );
}
