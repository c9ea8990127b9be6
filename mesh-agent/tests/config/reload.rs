//! Hot reload end to end, in-process: a directory source on a temp dir feeds the pipeline,
//! and an outbound proxy on loopback serves from the snapshot it swaps in. A changed endpoint
//! takes traffic, a broken file keeps the old snapshot serving (and is reported), a deleted
//! file takes its resources with it.

use std::net::SocketAddr;

use mesh_agent::pipeline;
use prometheus_client::registry::Registry;

use crate::harness::config::{pod, service, WatchedDir};
use crate::harness::metrics;
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::echo_server;

/// A loopback ClusterIP: once the Service is gone, passthrough stays on loopback.
const CLUSTER_IP: &str = "127.0.0.10:80";

fn pod_yaml(ip: &str) -> String {
    pod("web-0", "app: web", ip)
}

struct Harness {
    config: WatchedDir,
    registry: Registry,
    client: Client,
    _agent: Agent,
}

/// `web` at 127.0.0.2 ("a"), a second server at 127.0.0.3 ("b"), the source, the pipeline
/// and an outbound listener for `sleep-0`.
async fn harness() -> Harness {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let svc = service("web", "127.0.0.10", "", a.port());
    let pods = pod_yaml("127.0.0.2");
    let files = [("svc.yaml", svc.as_str()), ("pods.yaml", pods.as_str())];
    let mut registry = Registry::default();
    let config = WatchedDir::start("reload", &files, &mut registry).await;
    let agent = Agent::new(config.state.clone());
    let client = agent.sleep().await;
    Harness {
        config,
        registry,
        client,
        _agent: agent,
    }
}

impl Harness {
    async fn call(&self) -> Option<String> {
        let answer = self.client.exchange(CLUSTER_IP, b"hi").await;
        answer.ok().map(|bytes| String::from_utf8(bytes).unwrap())
    }

    /// Writes (or, with `None`, deletes) `file`, then waits for the reload it causes.
    async fn change(&self, file: &str, text: Option<&str>) {
        self.config.write(file, text).await;
    }

    fn metric(&self, prefix: &str) -> String {
        let text = metrics::text(&self.registry);
        let line = metrics::line(&text, prefix);
        line.unwrap_or_else(|| panic!("{prefix} in {text}"))
            .to_string()
    }
}

#[tokio::test]
async fn a_changed_endpoint_takes_the_traffic_without_restart() {
    let h = harness().await;
    assert_eq!(h.call().await.as_deref(), Some("a:hi"));
    assert_eq!(
        h.metric("mesh_config_reloads_total"),
        r#"mesh_config_reloads_total{result="success"} 1"#
    );
    h.change("pods.yaml", Some(&pod_yaml("127.0.0.3"))).await;
    assert_eq!(h.call().await.as_deref(), Some("b:hi"));
    assert_eq!(
        h.metric("mesh_config_rejected_resources"),
        "mesh_config_rejected_resources 0"
    );
}

#[tokio::test]
async fn a_broken_file_keeps_the_old_snapshot_serving_and_is_reported() {
    let h = harness().await;
    h.change(
        "pods.yaml",
        Some("apiVersion: v1\nkind: Pod\nmetadata: [oops\n"),
    )
    .await;
    assert_eq!(
        h.call().await.as_deref(),
        Some("a:hi"),
        "the pod's last good version serves"
    );
    assert_eq!(
        h.metric("mesh_config_rejected_resources"),
        "mesh_config_rejected_resources 1"
    );
    let dump = pipeline::config_dump(&h.config.state).unwrap();
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    let problem = &dump["last_reload"]["source_problems"][0];
    let origin = problem["origin"]["File"]["path"].as_str().unwrap();
    assert!(origin.ends_with("pods.yaml"), "{problem}");

    h.change("pods.yaml", Some(&pod_yaml("127.0.0.3"))).await;
    assert_eq!(h.call().await.as_deref(), Some("b:hi"), "fixed: applied");
    assert_eq!(
        h.metric("mesh_config_rejected_resources"),
        "mesh_config_rejected_resources 0"
    );
}

#[tokio::test]
async fn deleting_a_file_removes_its_resources() {
    let h = harness().await;
    assert!(h
        .config
        .state
        .snapshot()
        .service_at(CLUSTER_IP.parse().unwrap())
        .is_some());
    h.change("svc.yaml", None).await;
    let snapshot = h.config.state.snapshot();
    assert!(snapshot.service_at(CLUSTER_IP.parse().unwrap()).is_none());
    assert!(
        snapshot.workload("127.0.0.2".parse().unwrap()).is_some(),
        "pods.yaml stays"
    );
    assert_ne!(
        h.call().await.as_deref(),
        Some("a:hi"),
        "no Service to balance over"
    );
}
