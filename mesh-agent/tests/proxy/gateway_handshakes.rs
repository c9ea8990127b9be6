//! The gateway's TLS handshake rate, in-process: past the agent's handshakes a second for one
//! client address, an HTTPS connection is closed before its handshake and counted, and the
//! client's next second is served again.

use std::time::Duration;

use mesh_agent::proxy::HandshakeListener;

use super::gateway_https::{certificate, connect_tls, https_server, secret, to_frontend};
use crate::harness::client::get_over;
use crate::harness::config::gateway;
use crate::harness::gateway::{free_port, Gateway};

#[tokio::test]
async fn a_client_past_its_handshakes_per_second_is_closed_before_the_handshake() {
    let port = free_port().await;
    let (crt, key, der) = certificate("shop.example.com");
    let h = Gateway::new(|_| {
        secret("shop-cert", &crt, &key)
            + &gateway(
                "istio: ingressgateway",
                &https_server(port, "shop.example.com", "shop-cert"),
            )
            + &to_frontend("[shop.example.com]")
    })
    .await;
    h.caps.handshakes.set_per_second(2);
    let connect = || connect_tls(port, "shop.example.com", &der, &[b"http/1.1"]);
    let (a, b, c) = tokio::join!(connect(), connect(), connect());
    let served = [&a, &b, &c].iter().filter(|t| t.is_ok()).count();
    assert_eq!(served, 2, "two handshakes of three at once");
    assert_eq!(h.caps.handshakes.refused(HandshakeListener::gateway), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = connect().await.expect("a token back after half a second");
    let answer = get_over(again, "shop.example.com", "/").await;
    assert_eq!(answer.status, 200, "{answer:?}");
}
