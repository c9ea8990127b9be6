//! Cardinality, in-process: 10,000 requests to 10,000 distinct paths through the outbound proxy
//! add no series to `/metrics` beyond those of the first request — no label carries a path.

mod agent_support;
mod http_support;

use std::collections::BTreeSet;

use agent_support::*;
use http_body_util::{BodyExt, Empty};
use http_support::*;
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use mesh_agent::proxy::Outbound;
use prometheus_client::registry::Registry;
use tokio::time::timeout;

/// The `single` Service: one endpoint, so every request has the same peers.
const SINGLE: &str = "10.96.0.12:80";
const REQUESTS: usize = 10_000;

/// Every series `/metrics` would serve: the `name{labels}` of each sample line.
fn series(registry: &Registry) -> BTreeSet<String> {
    let text = mesh_agent::metrics::encode(registry).unwrap();
    let sample = |line: &str| match line.rfind(' ') {
        Some(end) if !line.starts_with('#') => Some(line[..end].to_string()),
        _ => None,
    };
    text.lines().filter_map(sample).collect()
}

fn requests_total(registry: &Registry) -> u64 {
    let text = mesh_agent::metrics::encode(registry).unwrap();
    let lines = text
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"));
    let value = |l: &str| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    lines.map(value).sum()
}

/// Waits (bounded) until `count` requests are counted: a request is counted when its
/// response has ended in the proxy, a moment after the client read it.
async fn counted(registry: &Registry, count: u64) {
    let poll = async {
        while requests_total(registry) < count {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let _ = timeout(GUARD, poll).await;
    assert_eq!(requests_total(registry), count);
}

#[tokio::test]
async fn ten_thousand_distinct_paths_add_no_series() {
    let (a, _) = upstream("127.0.0.5:0".parse().unwrap(), "single-0").await;
    let (inputs, dsts, registry) = inputs(config(&cluster_yaml(a.port())));
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = outbound.address();
    tokio::spawn(outbound.run());
    let stream = captured_connect(proxy, &dsts, cookie, SINGLE.parse().unwrap()).await;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);

    let mut after_first = BTreeSet::new();
    for n in 0..REQUESTS {
        let request = Request::get(format!("/item/{n}?q={n}"))
            .header("host", "single.shop")
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = timeout(GUARD, sender.send_request(request))
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
        if n == 0 {
            counted(&registry, 1).await;
            after_first = series(&registry);
        }
    }
    counted(&registry, REQUESTS as u64).await;
    let after_all = series(&registry);
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
