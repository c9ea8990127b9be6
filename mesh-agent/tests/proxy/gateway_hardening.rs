//! The ingress gateway hardened, in-process on loopback: its upstream connections never reach a
//! node-local address (refused `UF`, logged and counted, the upstream never dialled); a client
//! slow to finish the TLS handshake or a request's headers is cut off.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::gateway_https::{certificate, https_server, secret, to_frontend};
use crate::harness::config::{gateway, http_server, pod, service, virtual_service};
use crate::harness::gateway::{free_port, Gateway, TIMEOUTS};
use crate::harness::metrics::has_sample;
use crate::harness::upstream::Upstream;

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
