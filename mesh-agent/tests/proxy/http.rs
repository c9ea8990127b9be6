//! The HTTP path in-process, on loopback, with a fake capture layer: HTTP/1.1 keep-alive and
//! chunked bodies, HTTP/2 prior knowledge, gRPC trailers, WebSocket upgrades, protocol
//! detection (server-first TCP is not stalled), Istio's request metrics and connection reuse.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::harness::client::read;
use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::metrics;
use crate::harness::proxy::{Agent, Client, RequestBody};
use crate::harness::upstream::{healthy_on_one_port, Upstream};
use crate::harness::GUARD;

const WEB: &str = "10.96.0.10:80";
const API: &str = "10.96.0.11:80";
const SINGLE: &str = "10.96.0.12:80";
const EMPTY: &str = "10.96.0.13:80";

struct Harness {
    agent: Agent,
    client: Client,
    /// The upstream of `single`.
    single: Arc<Upstream>,
}

/// The `web` Service (10.96.0.10:80, undeclared port) over pods 127.0.0.2 and 127.0.0.3;
/// `api` (10.96.0.11:80, port name `grpc-api`) over 127.0.0.4; `single` (10.96.0.12:80) over
/// 127.0.0.5 only; `empty` (10.96.0.13:80) with no endpoint; the client pod `sleep-0`.
fn cluster_yaml(port: u16) -> String {
    [
        service("web", "10.96.0.10", "web", port),
        service("api", "10.96.0.11", "grpc-api", port),
        service("single", "10.96.0.12", "main", port),
        service("empty", "10.96.0.13", "main", port),
        pod("web-0", "app: web, version: v1", "127.0.0.2"),
        pod("web-1", "app: web, version: v2", "127.0.0.3"),
        pod("api-0", "app: api, version: v1", "127.0.0.4"),
        pod("single-0", "app: single, version: v1", "127.0.0.5"),
        sleep(),
    ]
    .concat()
}

/// Upstreams for every pod (all on one port) and an outbound listener for `sleep-0`.
async fn harness() -> Harness {
    let (port, pods) = healthy_on_one_port(&[
        ("127.0.0.2", "web-0"),
        ("127.0.0.3", "web-1"),
        ("127.0.0.4", "api-0"),
        ("127.0.0.5", "single-0"),
    ])
    .await;
    let agent = Agent::new(compile(&cluster_yaml(port)));
    let client = agent.sleep().await;
    Harness {
        agent,
        client,
        single: pods[3].clone(),
    }
}

impl Harness {
    async fn connect(&self, dst: &str) -> TcpStream {
        self.client.connect(dst).await
    }

    async fn http1(&self, dst: &str) -> http1::SendRequest<RequestBody> {
        self.client.http1(dst).await
    }

    async fn http2(&self, dst: &str) -> http2::SendRequest<RequestBody> {
        self.client.http2(dst).await
    }

    /// `GET path` on a fresh HTTP/1.1 connection to `dst`: status and body.
    async fn get(&self, dst: &str, path: &str) -> (StatusCode, String) {
        let mut sender = self.http1(dst).await;
        send(&mut sender, get(dst, path)).await
    }

    fn metrics(&self) -> String {
        self.agent.metrics()
    }

    /// `istio_requests_total` over the series holding every one of `labels`, once it
    /// reaches `want` (requests are recorded when their bodies end).
    async fn requests_total(&self, labels: &[&str], want: u64) -> u64 {
        metrics::requests_total(&self.agent.registry, labels, want).await
    }
}

fn get(dst: &str, path: &str) -> Request<RequestBody> {
    Request::get(path)
        .header(
            "host",
            format!("web.shop:{}", dst.rsplit(':').next().unwrap()),
        )
        .body(Empty::new().boxed())
        .unwrap()
}

async fn send(
    sender: &mut http1::SendRequest<RequestBody>,
    request: Request<RequestBody>,
) -> (StatusCode, String) {
    let response = timeout(GUARD, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    status_and_body(response).await
}

async fn status_and_body(response: Response<hyper::body::Incoming>) -> (StatusCode, String) {
    let answer = read(response).await;
    (StatusCode::from_u16(answer.status).unwrap(), answer.body)
}

#[tokio::test]
async fn http1_keep_alive_carries_several_requests_on_one_client_connection() {
    let h = harness().await;
    let mut sender = h.http1(WEB).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (status, body) = send(&mut sender, get(WEB, "/")).await;
        assert_eq!(status, StatusCode::OK);
        answers.push(body);
    }
    answers.sort();
    // Round robin per request, not per connection; the client's Host header is kept.
    assert_eq!(
        answers,
        [
            "web-0 / host=web.shop:80",
            "web-0 / host=web.shop:80",
            "web-1 / host=web.shop:80",
            "web-1 / host=web.shop:80"
        ]
    );
}

#[tokio::test]
async fn a_chunked_request_body_arrives_whole() {
    let h = harness().await;
    let mut sender = h.http1(WEB).await;
    let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = ["one ", "two ", "three"]
        .into_iter()
        .map(|c| Ok(Frame::data(Bytes::from(c))))
        .collect();
    let body = StreamBody::new(futures::stream::iter(chunks)).boxed();
    let request = Request::post("/echo")
        .header("host", "web")
        .body(body)
        .unwrap();
    let (status, body) = send(&mut sender, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "one two three"));
}

#[tokio::test]
async fn http2_prior_knowledge_is_detected_and_proxied() {
    let h = harness().await;
    let mut sender = h.http2(WEB).await;
    for _ in 0..2 {
        let request = Request::get("http://web.shop/")
            .body(Empty::new().boxed())
            .unwrap();
        let response = timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let (status, body) = status_and_body(response).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.ends_with(" host=web.shop"), "{body}");
    }
}

#[tokio::test]
async fn a_grpc_call_keeps_its_trailers_and_is_counted_as_grpc() {
    let h = harness().await;
    let mut sender = h.http2(API).await;
    let request = Request::post("http://api.shop/grpc")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x01x")).boxed())
        .unwrap();
    let response = timeout(GUARD, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let collected = timeout(GUARD, response.into_body().collect())
        .await
        .unwrap()
        .unwrap();
    let trailers = collected.trailers().cloned().expect("trailers");
    assert_eq!(trailers["grpc-status"], "7");
    assert_eq!(trailers["grpc-message"], "denied");
    let labels = [
        "request_protocol=\"grpc\"",
        "grpc_response_status=\"7\"",
        "destination_service=\"api.shop.svc.cluster.local\"",
    ];
    assert_eq!(h.requests_total(&labels, 1).await, 1);
}

#[tokio::test]
async fn a_websocket_upgrade_is_passed_through() {
    let h = harness().await;
    let mut sender = h.http1(WEB).await;
    let request = Request::get("/ws")
        .header("host", "web")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .body(Empty::new().boxed())
        .unwrap();
    let response = timeout(GUARD, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let upgraded = timeout(GUARD, hyper::upgrade::on(response))
        .await
        .unwrap()
        .unwrap();
    let mut io = TokioIo::new(upgraded);
    io.write_all(b"ping over the upgraded connection")
        .await
        .unwrap();
    let mut echoed = [0u8; 33];
    timeout(GUARD, io.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"ping over the upgraded connection");
}

#[tokio::test]
async fn a_server_first_protocol_is_not_stalled() {
    let h = harness().await;
    // Like MySQL: the server greets first; the client sends nothing until it read the greeting.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"220 greetings\r\n").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
    });
    let mut client = h.connect(&server.to_string()).await;
    let mut greeting = [0u8; 15];
    timeout(GUARD, client.read_exact(&mut greeting))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&greeting, b"220 greetings\r\n");
    client.write_all(b"QUIT").await.unwrap();
    let mut echoed = [0u8; 4];
    timeout(GUARD, client.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"QUIT");
}

#[tokio::test]
async fn an_undeclared_port_is_detected_as_http_and_counted() {
    let h = harness().await;
    let (status, _) = h.get(WEB, "/").await;
    assert_eq!(status, StatusCode::OK);
    let labels = [
        "reporter=\"source\"",
        "request_protocol=\"http\"",
        "response_code=\"200\"",
    ];
    assert_eq!(h.requests_total(&labels, 1).await, 1);
    assert!(
        !h.metrics().contains("istio_tcp_connections_opened_total{"),
        "not carried as TCP"
    );
}

#[tokio::test]
async fn requests_are_counted_exactly_per_response_code_and_flag() {
    let h = harness().await;
    for (dst, path) in [
        (WEB, "/"),
        (WEB, "/"),
        (WEB, "/"),
        (WEB, "/status/503"),
        (WEB, "/status/404"),
    ] {
        h.get(dst, path).await;
    }
    for _ in 0..2 {
        let (status, _) = h.get(EMPTY, "/").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let web = "destination_service=\"web.shop.svc.cluster.local\"";
    let empty = "destination_service=\"empty.shop.svc.cluster.local\"";
    let source = "source_workload=\"sleep\"";
    assert_eq!(
        h.requests_total(
            &[web, source, "response_code=\"200\"", "response_flags=\"-\""],
            3
        )
        .await,
        3
    );
    // The mesh default policy retried the 503 twice and passed the last one on: `URX`.
    assert_eq!(
        h.requests_total(&[web, "response_code=\"503\"", "response_flags=\"URX\""], 1)
            .await,
        1
    );
    assert_eq!(
        h.requests_total(&[web, "response_code=\"404\""], 1).await,
        1
    );
    let no_upstream = [
        empty,
        "response_code=\"503\"",
        "response_flags=\"UH\"",
        "destination_workload=\"unknown\"",
    ];
    assert_eq!(h.requests_total(&no_upstream, 2).await, 2);
    assert_eq!(
        h.requests_total(&["reporter=\"source\""], 7).await,
        7,
        "{}",
        h.metrics()
    );
    let v1 = [
        web,
        "destination_version=\"v1\"",
        "destination_workload=\"web\"",
    ];
    assert!(
        h.requests_total(&v1, 1).await >= 1,
        "destination filled from the endpoint"
    );
    let durations = "istio_request_duration_milliseconds_count{";
    assert!(
        h.metrics().lines().any(|l| l.starts_with(durations)),
        "duration histogram"
    );
}

#[tokio::test]
async fn a_refused_endpoint_answers_503_with_flag_uf() {
    let h = harness().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut sender = h.http1(&closed.to_string()).await;
    // The client's first bytes decide HTTP; the refused connect becomes a local reply.
    let (status, _) = send(&mut sender, get(&closed.to_string(), "/")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.requests_total(&["response_flags=\"UF\""], 1).await, 1);
}

#[tokio::test]
async fn upstream_connections_are_pooled_across_requests_and_client_connections() {
    let h = harness().await;
    let requests = 6;
    for _ in 0..requests {
        let (status, _) = h.get(SINGLE, "/").await;
        assert_eq!(status, StatusCode::OK);
    }
    let upstream_connections = h.single.accepted();
    assert!(
        upstream_connections < requests,
        "{upstream_connections} upstream connections for {requests} requests"
    );
}
