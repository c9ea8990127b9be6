//! Overload protection through the real outbound proxy, in-process: a pod past its connection
//! cap is refused while another pod is served; a client that never finishes its request head
//! is cut at the header timeout while a kept-alive connection waiting longer is not; an idle
//! connection is closed at the idle timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::upstream::Behaviour;
use crate::harness::web::{get, web_with, Web, WEB};
use crate::harness::GUARD;
use mesh_agent::http::{DownstreamTimeouts, HttpInputs};
use mesh_agent::proxy::{Cap, ConnectionCaps, ProxyInputs};

async fn with(edit: impl FnOnce(ProxyInputs) -> ProxyInputs) -> Web {
    web_with(&[Behaviour::Healthy], "", edit).await
}

fn timeouts(header_read_ms: u64, idle_ms: u64) -> impl FnOnce(ProxyInputs) -> ProxyInputs {
    move |inputs| {
        let http = Arc::into_inner(inputs.http).expect("not shared yet");
        let downstream = DownstreamTimeouts {
            header_read: Duration::from_millis(header_read_ms),
            idle: Duration::from_millis(idle_ms),
        };
        let http = Arc::new(HttpInputs { downstream, ..http });
        ProxyInputs { http, ..inputs }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A kept-alive HTTP/1 connection of `client` to `web`.
async fn connection(client: &crate::harness::proxy::Client) -> Sender {
    let stream = client.connect(WEB).await;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn status(sender: &mut Sender) -> Result<u16, hyper::Error> {
    let response = tokio::time::timeout(GUARD, sender.send_request(get("/", &[])));
    Ok(response.await.expect("no hang")?.status().as_u16())
}

#[tokio::test]
async fn a_pod_over_its_connection_cap_is_refused_while_another_pod_is_served() {
    let caps = |inputs: ProxyInputs| ProxyInputs {
        caps: Arc::new(ConnectionCaps::new(100, 2)),
        ..inputs
    };
    let h = with(caps).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut sender = connection(&h.client).await;
        assert_eq!(status(&mut sender).await.unwrap(), 200);
        held.push(sender);
    }
    let mut third = connection(&h.client).await;
    assert!(
        status(&mut third).await.is_err(),
        "the third connection is closed"
    );
    assert_eq!(h.agent.inputs.caps.refused(Cap::pod), 1);
    let other = h.agent.outbound("sleep-1", "127.0.0.1").await;
    let mut sender = connection(&other).await;
    assert_eq!(
        status(&mut sender).await.unwrap(),
        200,
        "another pod is served"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = connection(&h.client).await;
    assert_eq!(status(&mut again).await.unwrap(), 200, "places come back");
}

#[tokio::test]
async fn a_slowloris_client_is_cut_at_the_header_timeout_and_a_waiting_kept_alive_one_is_not() {
    let h = with(timeouts(300, 60_000)).await;
    let mut kept = connection(&h.client).await;
    assert_eq!(status(&mut kept).await.unwrap(), 200);
    let mut slow = h.client.connect(WEB).await;
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: web.shop\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(GUARD, slow.read_to_end(&mut rest)).await;
    assert!(
        read.expect("cut before the guard").is_ok_and(|n| n == 0),
        "{rest:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        status(&mut kept).await.unwrap(),
        200,
        "idle past the header timeout, kept"
    );
}

#[tokio::test]
async fn a_connection_idle_past_the_idle_timeout_is_closed() {
    let h = with(timeouts(30_000, 300)).await;
    let mut sender = connection(&h.client).await;
    assert_eq!(status(&mut sender).await.unwrap(), 200);
    let closed = tokio::time::timeout(GUARD, async {
        while !sender.is_closed() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    closed.await.expect("closed after the idle timeout");
}
