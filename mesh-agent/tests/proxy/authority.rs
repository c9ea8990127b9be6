//! An HTTP/2 upstream sees the authority the client used as `:authority`, not the endpoint's
//! address the mesh dialled — whether the client spoke HTTP/2 (its `:authority`) or HTTP/1.1
//! (its `Host`). `api` (port `grpc-api`) is HTTP/2 upstream.
//!
//! Ignored until the connection pool sends HTTP/2 requests with the client's authority (its
//! legacy client keys connections by the request's authority, so today the endpoint address is
//! sent; see the pool change described in issue #5's notes).

use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use tokio::time::timeout;

use crate::harness::client::read;
use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::proxy::{Agent, Client, RequestBody};
use crate::harness::upstream::healthy_on_one_port;
use crate::harness::GUARD;

const API: &str = "10.96.0.11:80";

/// The outbound proxy of `sleep-0`; `api` (port name `grpc-api`) over its upstream.
async fn proxy() -> Client {
    let (port, _) = healthy_on_one_port(&[("127.0.0.4", "api-0")]).await;
    let yaml = service("api", "10.96.0.11", "grpc-api", port)
        + &pod("api-0", "app: api, version: v1", "127.0.0.4")
        + &sleep();
    Agent::new(compile(&yaml)).sleep().await
}

async fn body_of(response: hyper::Response<hyper::body::Incoming>) -> (StatusCode, String) {
    let answer = read(response).await;
    (StatusCode::from_u16(answer.status).unwrap(), answer.body)
}

#[tokio::test]
async fn an_http2_upstream_sees_the_clients_authority() {
    let client = proxy().await;
    let mut h2 = client.http2(API).await;
    let request = Request::get("http://api.shop:80/authority")
        .body(Empty::new().boxed() as RequestBody)
        .unwrap();
    let answer = timeout(GUARD, h2.send_request(request)).await.unwrap();
    let (status, authority) = body_of(answer.unwrap()).await;
    assert_eq!(
        (status, authority.as_str()),
        (StatusCode::OK, "api.shop:80")
    );

    let mut h1 = client.http1(API).await;
    let request = Request::get("/authority")
        .header("host", "api.shop")
        .body(Empty::new().boxed() as RequestBody)
        .unwrap();
    let answer = timeout(GUARD, h1.send_request(request)).await.unwrap();
    let (status, authority) = body_of(answer.unwrap()).await;
    assert_eq!((status, authority.as_str()), (StatusCode::OK, "api.shop"));
}
