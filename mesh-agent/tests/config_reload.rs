//! Hot reload end to end, in-process: a directory source on a temp dir feeds the pipeline,
//! and an outbound proxy on loopback serves from the snapshot it swaps in. A changed endpoint
//! takes traffic, a broken file keeps the old snapshot serving (and is reported), a deleted
//! file takes its resources with it.

mod agent_support;

use std::net::SocketAddr;
use std::sync::Arc;

use agent_support::*;
use mesh_agent::pipeline::{self, ConfigMetrics, ConfigState};
use mesh_agent::proxy::Outbound;
use mesh_agent::sources::DirectorySource;
use prometheus_client::registry::Registry;
use tokio::time::timeout;

/// A loopback ClusterIP: once the Service is gone, passthrough stays on loopback.
const CLUSTER_IP: &str = "127.0.0.10:80";

fn service_yaml(target_port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n\
         spec: {{clusterIP: 127.0.0.10, selector: {{app: web}}, \
         ports: [{{port: 80, targetPort: {target_port}}}]}}\n"
    )
}

fn pod_yaml(ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-0, namespace: shop, \
         labels: {{app: web}}}}\nstatus: {{podIP: {ip}}}\n"
    )
}

struct Harness {
    dir: TempDir,
    state: ConfigState,
    registry: Registry,
    proxy: SocketAddr,
    dsts: Arc<FakeOriginalDsts>,
    cookie: u64,
}

/// `web` at 127.0.0.2 ("a"), a second server at 127.0.0.3 ("b"), the source, the pipeline
/// and an outbound listener for `sleep-0`.
async fn harness() -> Harness {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let dir = TempDir::new("reload");
    std::fs::write(dir.path().join("svc.yaml"), service_yaml(a.port())).unwrap();
    std::fs::write(dir.path().join("pods.yaml"), pod_yaml("127.0.0.2")).unwrap();
    let source = DirectorySource::new(dir.path());
    let state = ConfigState::default();
    let mut registry = Registry::default();
    let metrics = ConfigMetrics::register(&mut registry);
    tokio::spawn(pipeline::run(source.subscribe(), state.clone(), metrics));
    tokio::spawn(source.run());
    wait_until("first snapshot", || state.is_loaded()).await;
    let (inputs, dsts, _) = inputs(state.clone());
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = outbound.address();
    tokio::spawn(outbound.run());
    Harness {
        dir,
        state,
        registry,
        proxy,
        dsts,
        cookie,
    }
}

impl Harness {
    async fn call(&self) -> Option<String> {
        let dst = CLUSTER_IP.parse().unwrap();
        let stream = captured_connect(self.proxy, &self.dsts, self.cookie, dst).await;
        let answer = timeout(GUARD, exchange(stream, b"hi"))
            .await
            .expect("no hang");
        answer.ok().map(|bytes| String::from_utf8(bytes).unwrap())
    }

    /// Writes (or, with `None`, deletes) `file`, then waits for the reload it causes.
    async fn change(&self, file: &str, text: Option<&str>) {
        let before = self.state.generation();
        let path = self.dir.path().join(file);
        match text {
            Some(text) => std::fs::write(path, text).unwrap(),
            None => std::fs::remove_file(path).unwrap(),
        }
        wait_until("reload", || self.state.generation() > before).await;
    }

    fn metric(&self, prefix: &str) -> String {
        let text = mesh_agent::metrics::encode(&self.registry).unwrap();
        let line = text.lines().find(|l| l.starts_with(prefix));
        line.unwrap_or_else(|| panic!("{prefix} in {text}"))
            .to_string()
    }
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    timeout(GUARD, poll)
        .await
        .unwrap_or_else(|_| panic!("{what}"));
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
    let dump = pipeline::config_dump(&h.state).unwrap();
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
        .state
        .snapshot()
        .service_at(CLUSTER_IP.parse().unwrap())
        .is_some());
    h.change("svc.yaml", None).await;
    let snapshot = h.state.snapshot();
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
