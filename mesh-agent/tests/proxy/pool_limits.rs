//! A destination's `connectionPool` applied to the real upstream connections, through the
//! outbound proxy in-process on loopback: upstream pods count the connections they accept and
//! hold open, so reuse, closing and the socket cap are counted, never timed.

use crate::harness::config::{destination_rule, route_to};
use crate::harness::upstream::Behaviour::*;
use crate::harness::web::web;

fn pool(settings: &str) -> String {
    destination_rule(&format!("    connectionPool: {settings}\n")) + &route_to("v1", "")
}

#[tokio::test]
async fn max_requests_per_connection_1_opens_a_connection_per_request() {
    let h = web(&[Healthy], &pool("{http: {maxRequestsPerConnection: 1}}")).await;
    for _ in 0..5 {
        assert_eq!(h.status().await, 200);
    }
    assert_eq!(h.pods[0].accepted(), 5, "no keep-alive");
    assert!(
        h.pods[0].all_closed().await,
        "each closed after its request"
    );

    let reused = web(&[Healthy], &pool("{http: {maxRequestsPerConnection: 100}}")).await;
    for _ in 0..5 {
        assert_eq!(reused.status().await, 200);
    }
    assert!(reused.pods[0].accepted() < 5, "kept alive and reused");
}

#[tokio::test]
async fn http_idle_timeout_closes_pooled_connections() {
    let h = web(&[Healthy], &pool("{http: {idleTimeout: 100ms}}")).await;
    assert_eq!(h.status().await, 200);
    assert!(
        h.pods[0].all_closed().await,
        "the idle connection was closed"
    );
    assert_eq!(h.status().await, 200);
    assert_eq!(
        h.pods[0].accepted(),
        2,
        "a new connection after the idle one closed"
    );
}

#[tokio::test]
async fn max_connection_duration_closes_an_upstream_connection_once_drained() {
    let h = web(&[Hang], &pool("{tcp: {maxConnectionDuration: 100ms}}")).await;
    let h = std::sync::Arc::new(h);
    let held = tokio::spawn({
        let h = h.clone();
        async move { h.status().await }
    });
    while h.pods[0].seen() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(h.pods[0].open(), 1, "not cut while a request is in flight");
    h.pods[0].heal();
    assert_eq!(held.await.unwrap(), 200, "the request in flight finishes");
    assert!(
        h.pods[0].all_closed().await,
        "then the old connection closes"
    );
}

#[tokio::test]
async fn max_connections_caps_a_pods_upstream_sockets_and_not_another_pods() {
    let settings = "    loadBalancer: {simple: ROUND_ROBIN}\n    connectionPool: \
                    {tcp: {maxConnections: 1, connectTimeout: 200ms}}\n";
    let h = web(&[Healthy, Healthy], &destination_rule(settings)).await;
    let first = h.status().await;
    // The first pod's idle connection holds the only place: the other pod gets no socket.
    let second = h.status().await;
    assert_eq!((first, second), (200, 503));
    let sockets = h.pods[0].accepted() + h.pods[1].accepted();
    assert_eq!(sockets, 1, "never more sockets than maxConnections");
    let flagged = h
        .requests_total(&["response_code=\"503\"", "response_flags=\"UO\""], 1)
        .await;
    assert_eq!(flagged, 1, "an overflow, answered as one");
    // Pools are per source pod, as sidecars keep them: another pod still gets its socket.
    let other = h.agent.outbound("sleep-1", "127.0.0.9").await;
    let stream = other.connect(crate::harness::web::WEB).await;
    let answer = crate::harness::client::get_over(stream, "web.shop", "/").await;
    assert_eq!(
        answer.status, 200,
        "another pod is not tripped by sleep-0's overflow"
    );
}
