//! Cardinality, in-process: 10,000 requests to 10,000 distinct paths through the outbound proxy
//! add no series to `/metrics` beyond those of the first request — no label carries a path.

use std::collections::BTreeSet;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use prometheus_client::registry::Registry;
use tokio::time::timeout;

use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::metrics::{self, requests_total};
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;
use crate::harness::GUARD;

/// The `single` Service: one endpoint, so every request has the same peers.
const SINGLE: &str = "10.96.0.12:80";
const REQUESTS: usize = 10_000;

/// Every series `/metrics` would serve: the `name{labels}` of each sample line.
fn series(registry: &Registry) -> BTreeSet<String> {
    let text = metrics::text(registry);
    let sample = |line: &str| match line.rfind(' ') {
        Some(end) if !line.starts_with('#') => Some(line[..end].to_string()),
        _ => None,
    };
    text.lines().filter_map(sample).collect()
}

/// Waits (bounded) until `count` requests are counted: a request is counted when its
/// response has ended in the proxy, a moment after the client read it.
async fn counted(registry: &Registry, count: u64) {
    assert_eq!(requests_total(registry, &[], count).await, count);
}

#[tokio::test]
async fn ten_thousand_distinct_paths_add_no_series() {
    let single = Upstream::healthy("127.0.0.5:0".parse().unwrap(), "single-0").await;
    let yaml = service("single", "10.96.0.12", "main", single.address.port())
        + &pod("single-0", "app: single, version: v1", "127.0.0.5")
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let registry = &agent.registry;
    let mut sender = agent.sleep().await.http1(SINGLE).await;

    let mut after_first = BTreeSet::new();
    for n in 0..REQUESTS {
        let request = Request::get(format!("/item/{n}?q={n}"))
            .header("host", "single.shop")
            .body(Empty::new().boxed())
            .unwrap();
        let response = timeout(GUARD, sender.send_request(request))
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
        if n == 0 {
            counted(registry, 1).await;
            after_first = series(registry);
        }
    }
    counted(registry, REQUESTS as u64).await;
    let after_all = series(registry);
    let added: Vec<_> = after_all.difference(&after_first).collect();
    assert!(
        added.is_empty(),
        "series added by distinct paths: {added:?}"
    );
    assert!(
        after_first.iter().all(|s| !s.contains("/item/")),
        "a label carries the path"
    );
}
