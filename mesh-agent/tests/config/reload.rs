//! Hot reload end to end, in-process: a directory source on a temp dir feeds the pipeline,
//! and an outbound proxy on loopback serves from the snapshot it swaps in. A changed endpoint
//! takes traffic, a broken file keeps the old snapshot serving (and is reported), a deleted
//! file takes its resources with it, and a resource with a value past its range fails alone.

use std::net::SocketAddr;

use mesh_agent::pipeline::{self, ConfigState};
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

/// A VirtualService for `web` (a TCP route to it) and one whose timeout is past any duration.
fn routes_yaml() -> String {
    let vs = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
             metadata: {{name: {name}, namespace: shop}}\nspec:\n{spec}"
        )
    };
    let good = vs(
        "web",
        "  hosts: [web]\n  tcp:\n  - route: [{destination: {host: web}}]\n",
    );
    let poisoned = vs(
        "poisoned",
        "  hosts: [other]\n  http:\n  - timeout: 100000000000000000000s\n    route: [{destination: {host: other}}]\n",
    );
    format!("{good}---\n{poisoned}")
}

/// `web` at 127.0.0.2 ("a"), a second server at 127.0.0.3 ("b"), the source, the pipeline
/// and an outbound listener for `sleep-0`.
async fn harness() -> Harness {
    harness_with(&[]).await
}

/// [`harness`], with `files` (name, text) in the directory before the source starts.
async fn harness_with(files: &[(&str, &str)]) -> Harness {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let svc = service("web", "127.0.0.10", "", a.port());
    let pods = pod_yaml("127.0.0.2");
    let mut all = vec![("svc.yaml", svc.as_str()), ("pods.yaml", pods.as_str())];
    all.extend_from_slice(files);
    let mut registry = Registry::default();
    let config = WatchedDir::start("reload", &all, &mut registry).await;
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

    /// The first line of the metric `prefix`: a reload is counted before its snapshot is swapped
    /// in, so it is there as soon as the test saw the swap.
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

/// The rejected resources of the last reload, as `kind/namespace/name: field: message`.
fn rejected(state: &ConfigState) -> Vec<String> {
    let reload = state.last_reload();
    let errors = reload.problems.iter().filter(|p| p.is_error());
    let line = |p: &mesh_agent::document::Problem| {
        format!(
            "{}/{}/{}: {}: {}",
            p.kind, p.namespace, p.name, p.field, p.message
        )
    };
    errors.map(line).collect()
}

const POISON: &str = "VirtualService/shop/poisoned: spec.http[0].timeout: invalid duration \
     \"100000000000000000000s\": out of range (at most 2562047h47m16.854775807s)";

#[tokio::test]
async fn a_resource_past_its_range_fails_alone_and_later_changes_still_apply() {
    let h = harness().await;
    h.change("routes.yaml", Some(&routes_yaml())).await;
    let snapshot = h.config.state.snapshot();
    let web = snapshot
        .routes("web", 80, "shop")
        .expect("the good VirtualService applies");
    assert_eq!(web.virtual_service, "shop/web");
    assert!(snapshot.routes("other", 80, "shop").is_none());
    assert_eq!(rejected(&h.config.state), [POISON]);
    assert_eq!(
        h.metric("mesh_config_reloads_total{result=\"rejected_resources\"}"),
        r#"mesh_config_reloads_total{result="rejected_resources"} 1"#
    );
    assert_eq!(
        h.metric("mesh_config_rejected_resources"),
        "mesh_config_rejected_resources 1"
    );
    assert_eq!(h.call().await.as_deref(), Some("a:hi"));

    h.change("pods.yaml", Some(&pod_yaml("127.0.0.3"))).await;
    assert_eq!(
        h.call().await.as_deref(),
        Some("b:hi"),
        "a later change applies while the poisoned document is still there"
    );
    assert_eq!(rejected(&h.config.state), [POISON], "and is still reported");
    let text = mesh_agent::metrics::encode(&h.registry).unwrap();
    assert!(!text.contains(r#"result="failed""#), "{text}");
}

#[tokio::test]
async fn an_agent_starting_with_a_resource_past_its_range_loads_the_rest() {
    let routes = routes_yaml();
    let h = harness_with(&[("routes.yaml", &routes)]).await;
    assert_eq!(h.call().await.as_deref(), Some("a:hi"));
    assert!(h
        .config
        .state
        .snapshot()
        .routes("web", 80, "shop")
        .is_some());
    assert_eq!(rejected(&h.config.state), [POISON]);
}

#[tokio::test]
async fn a_serving_resource_that_turns_past_its_range_keeps_its_last_good_version() {
    let routes = routes_yaml();
    let h = harness_with(&[("routes.yaml", &routes)]).await;
    let poisoned_web = routes_yaml().replacen(
        "  tcp:\n",
        "  http:\n  - timeout: 100000000000000000000s\n    route: [{destination: {host: web}}]\n  tcp:\n",
        1,
    );
    h.change("routes.yaml", Some(&poisoned_web)).await;
    let snapshot = h.config.state.snapshot();
    let web = snapshot
        .routes("web", 80, "shop")
        .expect("its last good version");
    assert!(web.http.is_empty(), "the version before the poison serves");
    let serving: Vec<(&str, bool)> = snapshot
        .rejected()
        .iter()
        .map(|r| (r.resource.as_str(), r.previous_version_serves))
        .collect();
    assert_eq!(
        serving,
        [
            ("VirtualService/shop/poisoned", false),
            ("VirtualService/shop/web", true)
        ]
    );
    assert_eq!(h.call().await.as_deref(), Some("a:hi"));
}
