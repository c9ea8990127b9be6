//! The agent's drain on shutdown, in-process: pods are unenrolled first (new connections go
//! direct) — failing closed, they stay captured with their listeners closed (new connections
//! refused) —, connections already carried go on until the drain time ends or a second signal
//! comes, then are closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_agent::lifecycle::{shutdown, FailureMode};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::enrollment::to_enroll;
use crate::harness::proxy::{Agent, Client, EnrolledPods, FakePodCapture, ListenAddrs};
use crate::harness::upstream::{echoes, streaming_echo_server};
use crate::harness::{wait_until, GUARD};

const ECHO: &str = "10.96.0.20:80";

/// An agent with one pod enrolled through a fake capture layer, and `sleep-0` reaching a
/// streaming echo server through the `echo` Service.
async fn enrolled_agent() -> (Agent, Client, Arc<EnrolledPods>, Arc<FakePodCapture>) {
    let echo = streaming_echo_server("127.0.0.2:0".parse().unwrap()).await;
    let yaml = service("echo", "10.96.0.20", "", echo.port())
        + &pod("echo-0", "app: echo", "127.0.0.2")
        + &sleep();
    let mut agent = Agent::new(compile(&yaml));
    let capture = Arc::new(FakePodCapture::default());
    let listen = ListenAddrs {
        outbound: "127.0.0.1:0".parse().unwrap(),
        inbound: "127.0.0.1:0".parse().unwrap(),
        outbound6: "[::1]:0".parse().unwrap(),
        inbound6: "[::1]:0".parse().unwrap(),
    };
    let pods = Arc::new(agent.enrolled_pods(capture.clone(), listen));
    let client = to_enroll("shop", "client-0", "/proc/self/ns/net", "10.244.1.5");
    pods.add(client).await.unwrap();
    assert_eq!(capture.enrolled.lock().unwrap().len(), 1);
    let client = agent.sleep().await;
    (agent, client, pods, capture)
}

async fn closed(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    let end = tokio::time::timeout(GUARD, stream.read_to_end(&mut rest)).await;
    end.is_ok_and(|read| read.is_ok_and(|n| n == 0))
}

#[tokio::test]
async fn pods_are_unenrolled_first_and_connections_closed_at_drain_time() {
    let (agent, client, pods, capture) = enrolled_agent().await;
    let mut stream = client.connect(ECHO).await;
    echoes(&mut stream, b"before").await;
    let drain = agent.drain();
    let drain_time = Duration::from_millis(500);
    let started = Instant::now();
    let draining = {
        let drain = drain.clone();
        tokio::spawn(async move {
            shutdown::drain(
                &pods,
                FailureMode::Open,
                &drain,
                drain_time,
                std::future::pending(),
            )
            .await;
        })
    };
    wait_until("the pod is unenrolled", || {
        capture.enrolled.lock().unwrap().is_empty()
    })
    .await;
    echoes(&mut stream, b"while draining").await;
    assert!(closed(&mut stream).await, "closed at drain time");
    assert!(started.elapsed() >= drain_time, "{:?}", started.elapsed());
    tokio::time::timeout(GUARD, draining)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drain.open(), 0);
}

#[tokio::test]
async fn a_second_signal_closes_at_once() {
    let (agent, client, pods, _) = enrolled_agent().await;
    let mut stream = client.connect(ECHO).await;
    echoes(&mut stream, b"before").await;
    let drain = agent.drain();
    let (signal, second) = tokio::sync::oneshot::channel::<()>();
    let draining = {
        let drain = drain.clone();
        tokio::spawn(async move {
            let second = async {
                let _ = second.await;
            };
            shutdown::drain(
                &pods,
                FailureMode::Open,
                &drain,
                Duration::from_secs(3600),
                second,
            )
            .await;
        })
    };
    echoes(&mut stream, b"while draining").await;
    signal.send(()).unwrap();
    assert!(closed(&mut stream).await, "closed on the second signal");
    tokio::time::timeout(GUARD, draining)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_drain_ends_as_soon_as_no_connection_is_left() {
    let (agent, client, pods, _) = enrolled_agent().await;
    let mut stream = client.connect(ECHO).await;
    echoes(&mut stream, b"before").await;
    let drain = agent.drain();
    let draining = tokio::spawn(async move {
        shutdown::drain(
            &pods,
            FailureMode::Open,
            &drain,
            Duration::from_secs(3600),
            std::future::pending(),
        )
        .await;
    });
    echoes(&mut stream, b"while draining").await;
    drop(stream);
    tokio::time::timeout(GUARD, draining)
        .await
        .expect("ends when the last connection does")
        .unwrap();
}

#[tokio::test]
async fn failing_closed_leaves_the_pods_captured_and_closes_their_listeners() {
    let (agent, client, pods, capture) = enrolled_agent().await;
    let mut stream = client.connect(ECHO).await;
    echoes(&mut stream, b"before").await;
    let drain = agent.drain();
    let draining = {
        let (drain, pods) = (drain.clone(), pods.clone());
        tokio::spawn(async move {
            let mode = FailureMode::Closed;
            shutdown::drain(
                &pods,
                mode,
                &drain,
                Duration::from_secs(3600),
                std::future::pending(),
            )
            .await;
        })
    };
    echoes(&mut stream, b"while draining").await;
    drop(stream);
    tokio::time::timeout(GUARD, draining)
        .await
        .expect("ends when the last connection does")
        .unwrap();
    assert!(
        pods.list().await.is_empty(),
        "the pod's listeners are closed"
    );
    assert_eq!(
        capture.enrolled.lock().unwrap().len(),
        1,
        "still captured: its new connections are refused, not sent direct"
    );
}
