//! Hop-by-hop headers end at the agent, both ways (RFC 9110 §7.6.1, as Envoy): the upstream
//! never sees the client's, the client never sees the upstream's; `te: trailers` goes on; an h2c
//! upgrade is refused (the request goes on without it); a WebSocket upgrade still works
//! (`http.rs`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use tokio::time::timeout;

use crate::harness::streaming::{grpc_api, API};
use crate::harness::web::two_versions;
use crate::harness::GUARD;

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::get(path).header("host", "web.shop");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::default()).unwrap()
}

#[tokio::test]
async fn the_clients_hop_by_hop_headers_do_not_reach_the_upstream() {
    let web = two_versions("").await;
    let headers = [
        ("connection", "keep-alive, X-Hop"),
        ("x-hop", "for the agent only"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers, deflate"),
        ("x-end-to-end", "kept"),
    ];
    let answer = web.send(get("/", &headers)).await;
    assert_eq!(answer.status, 200);
    for gone in ["connection", "x-hop", "keep-alive", "proxy-connection"] {
        let echoed = format!("echo-{gone}");
        assert!(
            !answer.headers.contains_key(&echoed),
            "{gone} reached the upstream"
        );
    }
    assert_eq!(answer.headers["echo-te"], "trailers");
    assert_eq!(answer.headers["echo-x-end-to-end"], "kept");
}

#[tokio::test]
async fn an_h2c_upgrade_is_forwarded_without_the_upgrade() {
    let web = two_versions("").await;
    let headers = [
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAARAAAAAAAIAAAAA"),
    ];
    let answer = web.send(get("/", &headers)).await;
    assert_eq!(answer.status, 200, "answered over HTTP/1.1, not switched");
    for gone in ["upgrade", "http2-settings", "connection"] {
        let echoed = format!("echo-{gone}");
        assert!(
            !answer.headers.contains_key(&echoed),
            "{gone} reached the upstream"
        );
    }
    assert!(
        answer.body.starts_with("v"),
        "the upstream's answer: {}",
        answer.body
    );
}

#[tokio::test]
async fn the_upstreams_hop_by_hop_headers_do_not_reach_the_client() {
    let web = two_versions("").await;
    let path = "/answer-headers?connection=x-upstream-hop&x-upstream-hop=1&keep-alive=5\
                &proxy-connection=keep-alive&upgrade=foo&x-end-to-end=kept";
    let answer = web.send(get(path, &[])).await;
    assert_eq!(answer.status, 200);
    for gone in [
        "x-upstream-hop",
        "keep-alive",
        "proxy-connection",
        "upgrade",
    ] {
        assert!(
            !answer.headers.contains_key(gone),
            "{gone} reached the client"
        );
    }
    assert_eq!(answer.headers["x-end-to-end"], "kept");
}

#[tokio::test]
async fn te_trailers_reaches_an_http2_upstream() {
    let (_agent, client, _pod) = grpc_api().await;
    let mut sender = client.http2(API).await;
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
    assert_eq!(response.headers()["echo-te"], "trailers");
}
