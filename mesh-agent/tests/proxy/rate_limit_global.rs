//! EnvoyFilter global rate limits through the real outbound proxy, in-process: the agent asks
//! a test rate limit service (Envoy's RLS API, `harness::rls`) over gRPC; its count is shared
//! by every pod asking (429, `x-envoy-ratelimited`, flag `RL`, no body past the limit), a
//! failed or slow service lets requests through unless `failure_mode_deny` (500, `RLSE`).

use std::time::Duration;

use crate::harness::client::get_over;
use crate::harness::config::{pod, service};
use crate::harness::metrics::sum;
use crate::harness::rls::RlsServer;
use crate::harness::web::{two_versions, Web, WEB};

const CLUSTER: &str = "outbound|80||ratelimit.shop.svc.cluster.local";

/// The `ratelimit` Service over a pod at `ip` listening on `port`, a second client pod
/// `sleep-1`, and the global filter for `app: sleep`'s outbound side asking it (`settings`
/// added to its typed_config) with a descriptor of the path from the virtual host.
fn mesh(ip: &str, port: u16, settings: &str) -> String {
    let filter = format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n\
         metadata: {{name: global, namespace: shop}}\nspec:\n  \
         workloadSelector: {{labels: {{app: sleep}}}}\n  configPatches:\n  \
         - applyTo: HTTP_FILTER\n    match: {{context: SIDECAR_OUTBOUND}}\n    patch:\n      \
         operation: INSERT_BEFORE\n      value:\n        name: envoy.filters.http.ratelimit\n        \
         typed_config: {{'@type': type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit, \
         domain: shop, rate_limit_service: {{grpc_service: {{envoy_grpc: {{cluster_name: '{CLUSTER}'}}}}, \
         transport_api_version: V3}}{settings}}}\n  \
         - applyTo: VIRTUAL_HOST\n    match: {{context: SIDECAR_OUTBOUND, routeConfiguration: {{vhost: {{name: ''}}}}}}\n    \
         patch:\n      operation: MERGE\n      value:\n        \
         rate_limits: [{{actions: [{{request_headers: {{header_name: ':path', descriptor_key: PATH}}}}]}}]\n---\n"
    );
    service("ratelimit", "10.96.0.20", "grpc-rls", port)
        + &pod("ratelimit-0", "app: ratelimit", ip)
        + &pod("sleep-1", "app: sleep, version: v1", "127.0.0.9")
        + &filter
}

async fn from_sleep_1(h: &Web) -> crate::harness::client::Answer {
    let other = h.agent.outbound("sleep-1", "127.0.0.9").await;
    get_over(other.connect(WEB).await, "web.shop", "/").await
}

#[tokio::test]
async fn the_services_count_is_shared_by_every_pod_and_refuses_past_the_limit() {
    let rls = RlsServer::start("127.0.0.20", 3, Duration::ZERO).await;
    let settings = ", timeout: 2s, enable_x_ratelimit_headers: DRAFT_VERSION_03";
    let h = two_versions(&mesh("127.0.0.20", rls.address.port(), settings)).await;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(h.get("/", &[]).await.status);
    }
    let answer = h.get("/", &[]).await;
    assert_eq!(answer.headers["x-ratelimit-remaining"], "0");
    assert_eq!(answer.headers["x-ratelimit-limit"], "3, 3;w=60");
    statuses.push(answer.status);
    assert_eq!(statuses, [200, 200, 200]);
    // Another pod's request counts in the same service: it is over the limit too.
    let refused = from_sleep_1(&h).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.headers["x-envoy-ratelimited"], "true");
    assert_eq!(
        refused.body, "",
        "Envoy answers the global limit without a body"
    );
    assert_eq!(h.get("/", &[]).await.status, 429);
    assert_eq!(
        rls.count("shop|PATH=/"),
        5,
        "every request asked, with its path"
    );
    assert_eq!(
        h.v1().seen() + h.v2().seen(),
        3,
        "refused ones never went upstream"
    );
    let limited = h
        .requests_total(&["response_code=\"429\"", "response_flags=\"RL\""], 2)
        .await;
    assert_eq!(limited, 2);
    let text = h.agent.metrics();
    let count = |decision: &str| {
        let labels = [r#"domain="shop""#, decision];
        sum(&text, "mesh_global_rate_limit_requests_total", &labels)
    };
    assert_eq!(count(r#"decision="ok""#), 3);
    assert_eq!(count(r#"decision="over_limit""#), 2);
}

#[tokio::test]
async fn a_failed_service_lets_requests_through_unless_failure_mode_deny() {
    // Nothing listens on the service's port.
    let port = {
        let unused = std::net::TcpListener::bind("127.0.0.21:0").unwrap();
        unused.local_addr().unwrap().port()
    };
    let open = two_versions(&mesh("127.0.0.21", port, ", timeout: 1s")).await;
    assert_eq!(open.get("/", &[]).await.status, 200);
    let text = open.agent.metrics();
    let labels = [r#"domain="shop""#, r#"decision="failure_mode_allowed""#];
    assert_eq!(
        sum(&text, "mesh_global_rate_limit_requests_total", &labels),
        1
    );

    let deny = ", timeout: 1s, failure_mode_deny: true";
    let closed = two_versions(&mesh("127.0.0.21", port, deny)).await;
    let answer = closed.get("/", &[]).await;
    assert_eq!((answer.status, answer.body.as_str()), (500, ""));
    let flagged = closed
        .requests_total(&["response_code=\"500\"", "response_flags=\"RLSE\""], 1)
        .await;
    assert_eq!(flagged, 1);
}

#[tokio::test]
async fn a_service_slower_than_the_timeout_is_a_failure() {
    let rls = RlsServer::start("127.0.0.22", 100, Duration::from_secs(5)).await;
    let deny = ", timeout: 100ms, failure_mode_deny: true";
    let h = two_versions(&mesh("127.0.0.22", rls.address.port(), deny)).await;
    let started = std::time::Instant::now();
    assert_eq!(h.get("/", &[]).await.status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut at the timeout"
    );
}
