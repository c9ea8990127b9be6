//! Draining in-process: once the agent drains, its listeners accept nothing new, an HTTP
//! request in flight completes (HTTP/1 answers `Connection: close`, HTTP/2 sends GOAWAY), a
//! kept-alive HTTP/1 connection's next request is answered with `Connection: close`, idle
//! kept-alive connections close (after `KEEP_ALIVE_GRACE`), L4 connections go on until the
//! drain time ends.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use mesh_agent::drain::Phase;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::client::read;
use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::proxy::Agent;
use crate::harness::upstream::{echoes, streaming_echo_server, Behaviour};
use crate::harness::web::{web, Web, WEB};
use crate::harness::{wait_until, GUARD};

fn slow_get() -> Request<BoxBody<Bytes, std::convert::Infallible>> {
    Request::get("/slow")
        .header("host", "web.shop")
        .body(Empty::new().boxed())
        .unwrap()
}

/// `web` over one pod holding its answers until healed.
async fn held() -> Web {
    web(&[Behaviour::Hang], "").await
}

#[tokio::test]
async fn an_http1_request_in_flight_completes_with_connection_close() {
    let web = held().await;
    let mut sender = web.client.http1(WEB).await;
    let answer = tokio::spawn(sender.send_request(slow_get()));
    wait_until("the upstream holds the request", || web.v1().seen() == 1).await;
    web.agent.drain().enter(Phase::Draining);
    tokio::time::sleep(Duration::from_millis(50)).await;
    web.pods[0].heal();
    let answer = read(answer.await.unwrap().unwrap()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["connection"], "close", "{answer:?}");
    wait_until("the connection closes after its answer", || {
        sender.is_closed()
    })
    .await;
}

#[tokio::test]
async fn an_idle_kept_alive_http1_connection_is_closed() {
    let web = web(&[Behaviour::Healthy], "").await;
    let mut sender = web.client.http1(WEB).await;
    let first = read(sender.send_request(slow_get()).await.unwrap()).await;
    assert_eq!(first.status, 200);
    assert!(first.headers.get("connection").is_none(), "kept alive");
    assert!(!sender.is_closed());
    web.agent.drain().enter(Phase::Draining);
    wait_until("the idle connection closes", || sender.is_closed()).await;
}

/// The next request on a kept-alive HTTP/1 connection, sent just as the agent starts draining
/// (an upgrade's predecessor, a SIGTERM), is answered — with `Connection: close` — instead of
/// failing on a connection closed under it.
#[tokio::test]
async fn a_kept_alive_http1_connection_gets_its_next_request_answered_with_connection_close() {
    let web = web(&[Behaviour::Healthy], "").await;
    let mut sender = web.client.http1(WEB).await;
    let first = read(sender.send_request(slow_get()).await.unwrap()).await;
    assert!(first.headers.get("connection").is_none(), "kept alive");
    web.agent.drain().enter(Phase::Draining);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let next = read(sender.send_request(slow_get()).await.unwrap()).await;
    assert_eq!(next.status, 200, "{next:?}");
    assert_eq!(next.headers["connection"], "close", "{next:?}");
    wait_until("the connection closes after it", || sender.is_closed()).await;
}

#[tokio::test]
async fn http2_gets_goaway_and_its_stream_in_flight_completes() {
    let web = held().await;
    let stream = web.client.connect(WEB).await;
    let (mut h2, connection) = h2::client::handshake(stream).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = Request::get("http://web.shop/slow").body(()).unwrap();
    let (response, _) = h2.send_request(request, true).unwrap();
    wait_until("the upstream holds the request", || web.v1().seen() == 1).await;
    web.agent.drain().enter(Phase::Draining);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = h2
        .clone()
        .ready()
        .await
        .and_then(|mut h2| {
            h2.send_request(Request::get("http://web.shop/").body(()).unwrap(), true)
        })
        .map(|_| ())
        .expect_err("no new stream after GOAWAY");
    assert!(refused.is_go_away(), "{refused:?}");
    web.pods[0].heal();
    let response = tokio::time::timeout(GUARD, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        chunk.unwrap();
    }
    let ended = tokio::time::timeout(GUARD, connection)
        .await
        .unwrap()
        .unwrap();
    assert!(ended.is_ok(), "the connection ends cleanly: {ended:?}");
}

/// An agent whose `sleep-0` reaches a streaming echo server through the `echo` Service
/// (10.96.0.20:80, undeclared port).
async fn echo_agent() -> (Agent, crate::harness::proxy::Client) {
    let echo = streaming_echo_server("127.0.0.2:0".parse().unwrap()).await;
    let yaml = service("echo", "10.96.0.20", "", echo.port())
        + &pod("echo-0", "app: echo", "127.0.0.2")
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    (agent, client)
}

#[tokio::test]
async fn an_l4_connection_streams_while_draining_and_closes_at_drain_time() {
    let (agent, client) = echo_agent().await;
    let mut stream = client.connect("10.96.0.20:80").await;
    echoes(&mut stream, b"before ").await;
    let drain = agent.drain();
    drain.enter(Phase::Draining);
    tokio::time::sleep(Duration::from_millis(50)).await;
    echoes(&mut stream, b"while draining").await;
    assert_eq!(drain.open(), 1);
    drain.enter(Phase::Closing);
    let mut rest = Vec::new();
    let end = tokio::time::timeout(GUARD, stream.read_to_end(&mut rest)).await;
    assert!(
        end.expect("closed at drain time").is_ok_and(|n| n == 0),
        "{rest:?}"
    );
    wait_until("no connection left open", || drain.open() == 0).await;
}

#[tokio::test]
async fn a_new_connection_while_draining_is_not_accepted() {
    let (agent, client) = echo_agent().await;
    let mut before = client.connect("10.96.0.20:80").await;
    echoes(&mut before, b"ok").await;
    agent.drain().enter(Phase::Draining);
    // Connects racing the listener's close may sit in its backlog (then reset); once it is
    // closed, nothing listens.
    let closed = async {
        while TcpStream::connect(client.proxy).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GUARD, closed)
        .await
        .expect("the listener closes");
    let error = TcpStream::connect(client.proxy).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    echoes(&mut before, b"still served").await;
}
