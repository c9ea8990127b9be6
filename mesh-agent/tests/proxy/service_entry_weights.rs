//! ServiceEntry endpoint weights in-process: a STATIC entry's endpoints take requests in
//! proportion to `endpoints[].weight`, through the request stack's balancer, and a subset keeps
//! the weights of the endpoints its labels select.

use crate::harness::client::get_over;
use crate::harness::config::{compile, sleep};
use crate::harness::proxy::Agent;
use crate::harness::upstream::healthy_on_one_port;

/// A STATIC entry for `api.example.test` on `port` over 127.0.0.41 (weight 1) and 127.0.0.42
/// (weight 3), labelled `track: a` and `track: b`, with `extra` appended.
fn weighted_entry(port: u16, extra: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [api.example.test]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: STATIC\n\
         \x20 ports: [{{number: {port}, name: http, protocol: HTTP}}]\n\
         \x20 endpoints:\n\
         \x20 - {{address: 127.0.0.41, weight: 1, labels: {{track: a}}}}\n\
         \x20 - {{address: 127.0.0.42, weight: 3, labels: {{track: b}}}}\n---\n{extra}"
    )
}

#[tokio::test]
async fn round_robin_sends_each_endpoint_its_weighted_share() {
    let (port, upstreams) =
        healthy_on_one_port(&[("127.0.0.41", "light"), ("127.0.0.42", "heavy")]).await;
    let agent = Agent::new(compile(&(weighted_entry(port, "") + &sleep())));
    let client = agent.sleep().await;
    let dst = format!("127.0.0.41:{port}");
    for _ in 0..8 {
        let answer = get_over(client.connect(&dst).await, "api.example.test", "/").await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let seen: Vec<usize> = upstreams.iter().map(|u| u.seen()).collect();
    assert_eq!(seen, [2, 6], "1:3 by weight");
}
