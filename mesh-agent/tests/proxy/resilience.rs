//! Timeouts, retries, circuit breaking and outlier detection through the real outbound proxy,
//! in-process on loopback. No wall-clock asserts: outcomes are counted from statuses, the
//! requests each pod saw and Istio's metrics (with their response flags).

use crate::harness::config::{destination_rule, route_to};
use crate::harness::upstream::Behaviour::*;
use crate::harness::web::web;

#[tokio::test]
async fn a_route_timeout_answers_504_ut() {
    let vs = route_to("v1", "    timeout: 200ms\n");
    let h = web(&[Hang], &(destination_rule("") + &vs)).await;
    assert_eq!(h.status().await, 504);
    let flagged = h
        .requests_total(&["response_code=\"504\"", "response_flags=\"UT\""], 1)
        .await;
    assert_eq!(flagged, 1);
    h.pods[0].heal();
}

#[tokio::test]
async fn three_attempts_on_5xx_lift_a_half_failing_backend() {
    let retries = "    retries: {attempts: 3, retryOn: 5xx}\n";
    let h = web(
        &[EveryOther(500)],
        &(destination_rule("") + &route_to("v1", retries)),
    )
    .await;
    let mut ok = 0;
    for _ in 0..40 {
        ok += usize::from(h.status().await == 200);
    }
    assert!(ok >= 36, "{ok} of 40 succeeded with retries");
    assert!(h.metric("mesh_retries_total") >= 20);

    let control = web(
        &[EveryOther(500)],
        &(destination_rule("") + &route_to("v1", "")),
    )
    .await;
    let mut ok = 0;
    for _ in 0..40 {
        ok += usize::from(control.status().await == 200);
    }
    assert_eq!(ok, 20, "without retryOn 5xx, a 500 is not retried");
}

#[tokio::test]
async fn the_default_policy_retries_a_503_but_not_a_500() {
    let mesh = destination_rule("") + &route_to("v1", "");
    let unavailable = web(&[Always(503)], &mesh).await;
    assert_eq!(unavailable.status().await, 503);
    assert_eq!(unavailable.pods[0].seen(), 3, "the first try and 2 retries");
    let flagged = unavailable
        .requests_total(&["response_code=\"503\"", "response_flags=\"URX\""], 1)
        .await;
    assert_eq!(flagged, 1);

    let failing = web(&[Always(500)], &mesh).await;
    assert_eq!(failing.status().await, 500);
    assert_eq!(failing.pods[0].seen(), 1, "a 500 is not retried by default");
}

const EJECT_ON_ONE: &str = "    outlierDetection: {consecutiveErrors: 1, interval: 1s, \
     baseEjectionTime: 3m, maxEjectionPercent: 50}\n";

#[tokio::test]
async fn a_pod_answering_503_stops_receiving_traffic_with_consecutive_errors_1() {
    let h = web(&[Always(503), Healthy], &destination_rule(EJECT_ON_ONE)).await;
    let mut ok = 0;
    for _ in 0..40 {
        ok += usize::from(h.status().await == 200);
    }
    assert_eq!(ok, 40, "the healthy pod serves (a 503 is retried to it)");
    assert!(h.pods[0].seen() <= 2, "broken pod saw {}", h.pods[0].seen());
    assert!(h.pods[1].seen() >= 39);
    assert_eq!(h.metric("mesh_outlier_ejected_endpoints"), 1);

    let clusters = mesh_agent::admin_clusters::clusters(h.config(), h.resilience());
    let web = clusters
        .iter()
        .find(|c| c.name == "outbound|80||web.shop.svc.cluster.local")
        .expect("the web cluster in /clusters");
    let outlier = web
        .outlier
        .get("shop/sleep-0")
        .expect("sleep-0's outlier state shown");
    let ejected: Vec<String> = outlier
        .iter()
        .filter(|e| e.ejected.is_some())
        .map(|e| e.endpoint.ip().to_string())
        .collect();
    assert_eq!(ejected, ["127.0.0.2"]);
    let json = serde_json::to_string(&clusters).unwrap();
    assert!(json.contains("consecutive_gateway"), "{json}");
}

#[tokio::test]
async fn one_pods_ejection_leaves_another_pods_requests_to_the_endpoint() {
    let h = web(&[Always(503), Healthy], &destination_rule(EJECT_ON_ONE)).await;
    for _ in 0..10 {
        assert_eq!(h.status().await, 200);
    }
    let seen = h.pods[0].seen();
    assert!(seen <= 2, "ejected for sleep-0 after {seen}");
    // Detectors are per source pod, as sidecars keep them: sleep-1 still tries the endpoint.
    let other = h.agent.outbound("sleep-1", "127.0.0.9").await;
    for _ in 0..10 {
        let stream = other.connect(crate::harness::web::WEB).await;
        let answer = crate::harness::client::get_over(stream, "web.shop", "/").await;
        assert_eq!(answer.status, 200, "a 503 is retried to the healthy pod");
    }
    let more = h.pods[0].seen() - seen;
    assert!(
        (1..=2).contains(&more),
        "sleep-1's requests reached the endpoint sleep-0 ejected until its own detector ejected \
         it: {more}"
    );
    assert_eq!(
        h.metric("mesh_outlier_ejected_endpoints"),
        2,
        "one endpoint ejected by each pod's detector"
    );
    let clusters = mesh_agent::admin_clusters::clusters(h.config(), h.resilience());
    let web = clusters
        .iter()
        .find(|c| c.name == "outbound|80||web.shop.svc.cluster.local")
        .unwrap();
    let sources: Vec<&String> = web.outlier.keys().collect();
    assert_eq!(sources, ["shop/sleep-0", "shop/sleep-1"]);
}

#[tokio::test]
async fn consecutive_errors_never_ejects_a_pod_answering_500() {
    let h = web(&[Always(500), Healthy], &destination_rule(EJECT_ON_ONE)).await;
    for _ in 0..20 {
        h.status().await;
    }
    assert!(
        h.pods[0].seen() >= 9,
        "only 502/503/504 count for consecutiveErrors"
    );

    let five = "    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, \
                baseEjectionTime: 3m, maxEjectionPercent: 50}\n";
    let h = web(&[Always(500), Healthy], &destination_rule(five)).await;
    for _ in 0..20 {
        h.status().await;
    }
    assert!(h.pods[0].seen() <= 2, "consecutive5xxErrors ejects it");
}

#[tokio::test]
async fn a_full_connection_pool_answers_503_uo_at_once() {
    let pool = "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, \
                maxRequestsPerConnection: 1}}\n";
    let h =
        std::sync::Arc::new(web(&[Hang], &(destination_rule(pool) + &route_to("v1", ""))).await);
    let (tx, mut rx) = tokio::sync::mpsc::channel(20);
    for _ in 0..20 {
        let (h, tx) = (h.clone(), tx.clone());
        tokio::spawn(async move { tx.send(h.status().await).await });
    }
    let mut statuses = Vec::new();
    for _ in 0..18 {
        statuses.push(rx.recv().await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    h.pods[0].heal();
    for _ in 0..2 {
        statuses.push(rx.recv().await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    let flagged = h
        .requests_total(&["response_code=\"503\"", "response_flags=\"UO\""], 18)
        .await;
    assert_eq!(flagged, 18);
}

#[tokio::test]
async fn a_refused_endpoint_is_retried_away_from() {
    let h = web(&[Refusing, Healthy], "").await;
    let mut ok = 0;
    for _ in 0..20 {
        ok += usize::from(h.status().await == 200);
    }
    assert_eq!(ok, 20, "connect failures are retried to the other endpoint");
    assert_eq!(h.pods[1].seen(), 20);
    // Round robin alternates first tries: a retry does not move its turn back onto the
    // refusing endpoint, so only every other request needs one.
    let retries = h.metric("mesh_retries_total");
    assert!(
        (8..=12).contains(&retries),
        "{retries} retries for 20 requests"
    );
}
