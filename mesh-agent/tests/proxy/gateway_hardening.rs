//! The ingress gateway hardened, in-process on loopback: its upstream connections never reach a
//! node-local address (refused `UF`, logged and counted, the upstream never dialled); a client
//! slow to finish the TLS handshake or a request's headers is cut off (one idle between requests
//! is not); headers from outside are taken per `gatewayTopology.numTrustedProxies`; a Host
//! another server serves than the SNI's is answered 421.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;

use super::gateway_https::{certificate, connect_tls, https_server, secret, to_frontend};
use crate::harness::client::{get_over, send_over, Answer};
use crate::harness::config::{gateway, http_server, mesh_config, pod, service, virtual_service};
use crate::harness::gateway::{free_port, Gateway, TIMEOUTS};
use crate::harness::metrics::has_sample;
use crate::harness::upstream::Upstream;
use crate::harness::GUARD;

const INGRESS: &str = "istio: ingressgateway";

#[tokio::test]
async fn a_gateway_route_to_a_loopback_endpoint_is_refused_and_counted() {
    let port = free_port().await;
    // Something answers on the node's loopback: without the guard the route would reach it.
    let local = Upstream::healthy("127.0.0.1:0".parse().unwrap(), "node-local").await;
    let target = local.address.port();
    let rules = "  - route: [{destination: {host: sneaky}}]\n";
    let h = Gateway::new(|_| {
        service("sneaky", "10.96.0.40", "http", target)
            + &pod("sneaky-0", "app: sneaky", "127.0.0.1")
            + &gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", rules)
    })
    .await;
    let answer = h.get(port, "shop.example.com", "/").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(local.accepted(), 0, "the node-local upstream was dialled");
    let metrics = h.metrics();
    // The first try and the mesh's default two retries on connect-failure: each refused.
    let refused = ["reason=\"loopback\""];
    assert!(
        has_sample(&metrics, "mesh_gateway_upstream_refused_total", &refused, 3),
        "{metrics}"
    );
    let flagged = ["response_code=\"503\"", "response_flags=\"UF,URX\""];
    assert!(
        has_sample(&metrics, "istio_requests_total", &flagged, 1),
        "{metrics}"
    );
}

/// Whether the gateway closes `stream` (EOF or reset) within twice `limit`, whatever it sent.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> bool {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(limit * 2, stream.read_to_end(&mut sink)).await;
    read.is_ok()
}

#[tokio::test]
async fn a_client_slow_to_send_its_request_headers_is_cut_off() {
    let port = free_port().await;
    let h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", to_frontend_rules())
    })
    .await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop")
        .await
        .unwrap();
    assert!(closed_within(stream, TIMEOUTS.request_headers).await);
    // A prompt client is served as before.
    assert_eq!(h.get(port, "shop.example.com", "/").await.status, 200);
}

#[tokio::test]
async fn a_kept_alive_client_idle_past_the_header_limit_is_served_again() {
    let port = free_port().await;
    let _h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", to_frontend_rules())
    })
    .await;
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let get = || {
        Request::get("/")
            .header("host", "shop.example.com")
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let first = tokio::time::timeout(GUARD, sender.send_request(get())).await;
    assert_eq!(first.expect("no hang").unwrap().status(), 200);
    // The head's clock starts at its first byte: waiting between requests is idle, not slow.
    tokio::time::sleep(TIMEOUTS.request_headers * 3).await;
    let second = tokio::time::timeout(GUARD, sender.send_request(get())).await;
    assert_eq!(second.expect("no hang").unwrap().status(), 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_the_tls_handshake_is_cut_off() {
    let port = free_port().await;
    let (crt, key, _) = certificate("shop.example.com");
    let _h = Gateway::new(|_| {
        secret("shop-cert", &crt, &key)
            + &gateway(
                INGRESS,
                &https_server(port, "shop.example.com", "shop-cert"),
            )
            + &to_frontend("[shop.example.com]")
    })
    .await;
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(closed_within(stream, TIMEOUTS.tls_handshake).await);
}

fn to_frontend_rules() -> &'static str {
    "  - route: [{destination: {host: frontend}}]\n"
}

/// `GET /` to plain gateway `port` with `headers`.
async fn get_with(port: u16, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get("/").header("host", "shop.example.com");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    send_over(stream, request.body(Empty::<Bytes>::new()).unwrap()).await
}

fn echoed<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    let name = format!("echo-{name}");
    answer
        .headers
        .get(name.as_str())
        .and_then(|v| v.to_str().ok())
}

const OUTSIDE: [(&str, &str); 4] = [
    ("x-forwarded-for", "198.51.100.1, 10.0.0.9"),
    ("x-request-id", "picked-by-the-client"),
    ("x-b3-sampled", "1"),
    ("x-envoy-force-trace", "true"),
];

#[tokio::test]
async fn headers_from_outside_are_not_trusted_by_default() {
    let port = free_port().await;
    let _h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", to_frontend_rules())
    })
    .await;
    let answer = get_with(port, &OUTSIDE).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        echoed(&answer, "x-forwarded-for"),
        Some("198.51.100.1, 10.0.0.9, 127.0.0.1")
    );
    assert_eq!(
        echoed(&answer, "x-envoy-external-address"),
        Some("127.0.0.1")
    );
    assert_eq!(echoed(&answer, "x-forwarded-proto"), Some("http"));
    let id = echoed(&answer, "x-request-id");
    assert!(id.is_some_and(|id| id != "picked-by-the-client"), "{id:?}");
    assert_eq!(echoed(&answer, "x-envoy-force-trace"), None);
    assert_eq!(echoed(&answer, "x-b3-sampled"), None);
}

#[tokio::test]
async fn trusted_proxies_in_front_name_the_client_and_keep_the_request_id() {
    let port = free_port().await;
    let _h = Gateway::new(|_| {
        mesh_config("defaultConfig:\n  gatewayTopology: {numTrustedProxies: 2}\n")
            + "---\n"
            + &gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", to_frontend_rules())
    })
    .await;
    let answer = get_with(port, &OUTSIDE).await;
    assert_eq!(
        echoed(&answer, "x-envoy-external-address"),
        Some("198.51.100.1")
    );
    assert_eq!(
        echoed(&answer, "x-request-id"),
        Some("picked-by-the-client")
    );
    assert_eq!(echoed(&answer, "x-envoy-force-trace"), None);
}

#[tokio::test]
async fn a_host_that_another_server_serves_than_the_sni_is_misdirected() {
    let port = free_port().await;
    let (a_crt, a_key, a_der) = certificate("a.example.com");
    let (b_crt, b_key, _) = certificate("b.example.com");
    let _h = Gateway::new(|_| {
        let servers = https_server(port, "a.example.com", "a-cert")
            + &https_server(port, "b.example.com", "b-cert");
        secret("a-cert", &a_crt, &a_key)
            + &secret("b-cert", &b_crt, &b_key)
            + &gateway(INGRESS, &servers)
            + &to_frontend("[a.example.com, b.example.com]")
    })
    .await;
    let tls = connect_tls(port, "a.example.com", &a_der, &[b"http/1.1"]).await;
    let answer = get_over(tls.unwrap(), "b.example.com", "/").await;
    assert_eq!(answer.status, 421, "{answer:?}");
    let tls = connect_tls(port, "a.example.com", &a_der, &[b"http/1.1"]).await;
    let answer = get_over(tls.unwrap(), "a.example.com:443", "/").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(echoed(&answer, "x-forwarded-proto"), Some("https"));
}
