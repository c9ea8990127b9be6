//! An HTTP/2 upstream sees the authority the client used as `:authority`, not the endpoint's
//! address the mesh dialled — whether the client spoke HTTP/2 (its `:authority`) or HTTP/1.1
//! (its `Host`). `api` (port `grpc-api`) is HTTP/2 upstream.
//!
//! Ignored until the connection pool sends HTTP/2 requests with the client's authority (its
//! legacy client keys connections by the request's authority, so today the endpoint address is
//! sent; see the pool change described in issue #5's notes).

mod agent_support;
mod http_support;

use std::net::SocketAddr;

use agent_support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use http_support::*;
use hyper::client::conn::{http1, http2};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_agent::proxy::Outbound;
use tokio::time::timeout;

const API: &str = "10.96.0.11:80";

type RequestBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// The outbound proxy of `sleep-0` with the harness cluster; the upstreams on one port.
async fn proxy() -> (SocketAddr, std::sync::Arc<FakeOriginalDsts>, u64) {
    let (a, _) = upstream("127.0.0.2:0".parse().unwrap(), "web-0").await;
    let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), a.port());
    upstream(at("127.0.0.4"), "api-0").await;
    let (inputs, dsts, _registry) = inputs(config(&cluster_yaml(a.port())));
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = outbound.address();
    tokio::spawn(outbound.run());
    (address, dsts, cookie)
}

async fn body_of(response: hyper::Response<hyper::body::Incoming>) -> (StatusCode, String) {
    let status = response.status();
    let body = timeout(GUARD, response.into_body().collect()).await;
    let bytes = body.unwrap().unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn an_http2_upstream_sees_the_clients_authority() {
    let (proxy, dsts, cookie) = proxy().await;
    let connect = || captured_connect(proxy, &dsts, cookie, API.parse().unwrap());

    let io = TokioIo::new(connect().await);
    let (mut h2, connection) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get("http://api.shop:80/authority")
        .body(Empty::new().boxed() as RequestBody)
        .unwrap();
    let answer = timeout(GUARD, h2.send_request(request)).await.unwrap();
    let (status, authority) = body_of(answer.unwrap()).await;
    assert_eq!(
        (status, authority.as_str()),
        (StatusCode::OK, "api.shop:80")
    );

    let io = TokioIo::new(connect().await);
    let (mut h1, connection) = http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get("/authority")
        .header("host", "api.shop")
        .body(Empty::new().boxed() as RequestBody)
        .unwrap();
    let answer = timeout(GUARD, h1.send_request(request)).await.unwrap();
    let (status, authority) = body_of(answer.unwrap()).await;
    assert_eq!((status, authority.as_str()), (StatusCode::OK, "api.shop"));
}
