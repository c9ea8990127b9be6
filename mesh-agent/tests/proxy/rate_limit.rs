//! EnvoyFilter local rate limits through the real outbound proxy of `sleep-0`, in-process:
//! the filter's bucket answers 429 `local_rate_limited` with flag `RL` and the configured
//! header once it is empty; a route's descriptor limits one header value and not another.

use crate::harness::web::two_versions;

/// An EnvoyFilter in `shop` for `app: sleep`'s outbound side, with `patches`.
fn envoy_filter(patches: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n\
         metadata: {{name: limit, namespace: shop}}\nspec:\n  \
         workloadSelector: {{labels: {{app: sleep}}}}\n  configPatches:\n{patches}---\n"
    )
}

const ENABLED: &str = "filter_enabled: {default_value: {numerator: 100}}, \
                       filter_enforced: {default_value: {numerator: 100}}";

fn filter(config: &str) -> String {
    format!(
        "  - applyTo: HTTP_FILTER\n    match: {{context: SIDECAR_OUTBOUND}}\n    patch:\n      \
         operation: INSERT_BEFORE\n      value:\n        name: envoy.filters.http.local_ratelimit\n        \
         typed_config: {{'@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, \
         stat_prefix: limiter{config}}}\n"
    )
}

#[tokio::test]
async fn past_the_bucket_requests_get_429_local_rate_limited_with_rl_and_the_header() {
    let config = format!(
        ", token_bucket: {{max_tokens: 3, tokens_per_fill: 3, fill_interval: 60s}}, {ENABLED}, \
         response_headers_to_add: [{{header: {{key: x-local-rate-limit, value: 'true'}}}}]"
    );
    let h = two_versions(&envoy_filter(&filter(&config))).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = h.get("/", &[]).await;
        if answer.status == 429 {
            assert_eq!(answer.body, "local_rate_limited");
            assert_eq!(answer.headers["x-local-rate-limit"], "true");
        }
        statuses.push(answer.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    let limited = h
        .requests_total(&["response_code=\"429\"", "response_flags=\"RL\""], 3)
        .await;
    assert_eq!(limited, 3);
    let text = h.agent.metrics();
    let count = |decision: &str| {
        let labels = [r#"stat_prefix="limiter""#, decision];
        crate::harness::metrics::sum(&text, "mesh_local_rate_limit_requests_total", &labels)
    };
    assert_eq!(count(r#"decision="enforced""#), 3);
    assert_eq!(count(r#"decision="ok""#), 3);
}

#[tokio::test]
async fn a_route_descriptor_limits_one_user_while_another_is_served() {
    let route = format!(
        "  - applyTo: HTTP_ROUTE\n    match:\n      context: SIDECAR_OUTBOUND\n      \
         routeConfiguration: {{vhost: {{name: 'web.shop.svc.cluster.local:80'}}}}\n    patch:\n      \
         operation: MERGE\n      value:\n        \
         route: {{rate_limits: [{{actions: [{{request_headers: {{header_name: x-user, descriptor_key: user}}}}]}}]}}\n        \
         typed_per_filter_config:\n          envoy.filters.http.local_ratelimit:\n            \
         {{'@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, \
         stat_prefix: per_user, {ENABLED}, \
         token_bucket: {{max_tokens: 100, fill_interval: 60s}}, \
         descriptors: [{{entries: [{{key: user, value: alice}}], token_bucket: {{max_tokens: 2, fill_interval: 60s}}}}]}}\n"
    );
    let h = two_versions(&envoy_filter(&(filter("") + &route))).await;
    let mut alice = Vec::new();
    let mut bob = Vec::new();
    for _ in 0..4 {
        alice.push(h.get("/", &[("x-user", "alice")]).await.status);
        bob.push(h.get("/", &[("x-user", "bob")]).await.status);
    }
    assert_eq!(alice, [200, 200, 429, 429]);
    assert_eq!(bob, [200, 200, 200, 200]);
}
