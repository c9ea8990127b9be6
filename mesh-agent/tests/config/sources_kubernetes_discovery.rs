//! The Kubernetes source on clusters whose Istio CRDs differ from the newest: it asks the fake API
//! server what it serves, starts with a CRD missing (warned about, counted), watches the old
//! versions an older Istio serves, picks up a CRD installed later and lets one go when it is
//! deleted, and a kind whose lists fail does not hold the others back.

use std::time::Duration;

use mesh_agent::document::SourceUpdate;
use mesh_agent::pipeline::ConfigState;
use mesh_agent::sources::KubernetesSource;
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::harness::fake_api::FakeApi;
use crate::harness::metrics;
use crate::sources_kubernetes::wait_for;

const NETWORKING: &str = "networking.istio.io";
const SECURITY: &str = "security.istio.io";
const TELEMETRY: &str = "telemetry.istio.io";

fn istio(group: &str, version: &str, kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": format!("{group}/{version}"), "kind": kind, "metadata": {
        "name": name, "namespace": "default", "resourceVersion": "7"}, "spec": spec})
}

fn virtual_service(version: &str) -> Value {
    let spec =
        json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]});
    istio(NETWORKING, version, "VirtualService", "reviews", spec)
}

/// A cluster with a Service `reviews` and, at `/apis/<group>/<version>/<plural>`, the objects given.
fn cluster(objects: &[(&str, Value)]) -> FakeApi {
    let api = FakeApi::default();
    let service = json!({"kind": "Service", "metadata": {"name": "reviews", "namespace": "default",
        "resourceVersion": "3"}, "spec": {"ports": [{"port": 9080, "name": "http"}]}});
    api.set("/api/v1/services", vec![service], 10);
    for (path, object) in objects {
        api.set(path, vec![object.clone()], 10);
    }
    api
}

fn kinds(update: &SourceUpdate) -> Vec<String> {
    let istio = update
        .resources
        .iter()
        .filter(|r| r.api_version.contains(".istio.io/"));
    istio
        .map(|r| format!("{} {}", r.api_version, r.kind))
        .collect()
}

fn source(api_addr: std::net::SocketAddr) -> KubernetesSource {
    let config = kube::Config::new(format!("http://{api_addr}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    KubernetesSource::new(client, "node-1")
}

fn start(source: KubernetesSource) -> watch::Receiver<SourceUpdate> {
    let updates = source.subscribe();
    tokio::spawn(source.run());
    updates
}

/// Whether the source's first set is out: the Service is always there.
fn published(update: &SourceUpdate) -> bool {
    update.resources.iter().any(|r| r.kind == "Service")
}

#[tokio::test]
async fn a_missing_crd_is_counted_and_the_rest_is_served() {
    let vs = (
        "/apis/networking.istio.io/v1/virtualservices",
        virtual_service("v1"),
    );
    let api = cluster(&[vs]);
    api.change_served(|served| served.remove(TELEMETRY, "telemetries"));
    let mut registry = Registry::default();
    let source = source(api.serve().await).register_metrics(&mut registry);
    let mut updates = start(source);

    let update = wait_for(&mut updates, "first set", published).await;
    assert_eq!(kinds(&update), ["networking.istio.io/v1 VirtualService"]);
    let text = metrics::text(&registry);
    let missing = "mesh_config_kinds_missing";
    assert!(
        metrics::has_sample(&text, missing, &[r#"kind="Telemetry""#], 1),
        "{text}"
    );
    assert!(
        metrics::has_sample(&text, missing, &[r#"kind="VirtualService""#], 0),
        "{text}"
    );
    let requests = api.requests();
    assert!(
        !requests.iter().any(|r| r.contains("/telemetries?")),
        "a kind not served is not listed: {requests:#?}"
    );
    // Discovery asks for the group list and each served version of the Istio groups only
    // (networking: 3, security: 2), never for Kubernetes' own groups.
    let discovery: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET /api") && !r.contains("limit=") && !r.contains("watch="))
        .collect();
    assert_eq!(discovery.len(), 1 + 3 + 2, "{discovery:#?}");
}

#[tokio::test]
async fn an_older_istio_is_read_at_the_versions_it_serves() {
    let vs_path = "/apis/networking.istio.io/v1beta1/virtualservices";
    let policy = istio(
        SECURITY,
        "v1beta1",
        "AuthorizationPolicy",
        "deny-all",
        json!({}),
    );
    let policy_path = "/apis/security.istio.io/v1beta1/authorizationpolicies";
    let telemetry = istio(
        TELEMETRY,
        "v1alpha1",
        "Telemetry",
        "mesh-default",
        json!({}),
    );
    let telemetry_path = "/apis/telemetry.istio.io/v1alpha1/telemetries";
    let api = cluster(&[
        (vs_path, virtual_service("v1beta1")),
        (policy_path, policy),
        (telemetry_path, telemetry),
    ]);
    api.change_served(|served| {
        served.only_versions(NETWORKING, &["v1beta1", "v1alpha3"]);
        served.only_versions(SECURITY, &["v1beta1"]);
        served.only_versions(TELEMETRY, &["v1alpha1"]);
    });
    let mut updates = start(source(api.serve().await));

    let update = wait_for(&mut updates, "first set", published).await;
    assert_eq!(
        kinds(&update),
        [
            "networking.istio.io/v1beta1 VirtualService",
            "security.istio.io/v1beta1 AuthorizationPolicy",
            "telemetry.istio.io/v1alpha1 Telemetry",
        ]
    );
    let state = ConfigState::default();
    state.apply(&update);
    let snapshot = state.snapshot();
    assert!(snapshot.rejected().is_empty(), "{:?}", snapshot.rejected());
    assert!(snapshot
        .routes("reviews.default.svc.cluster.local", 9080, "default")
        .is_some());
    assert_eq!(snapshot.authorization_policies("default").len(), 1);
}

#[tokio::test]
async fn a_crd_installed_later_is_watched_and_one_deleted_drops_out() {
    let api = cluster(&[]);
    api.change_served(|served| served.remove(TELEMETRY, "telemetries"));
    let mut registry = Registry::default();
    let source = source(api.serve().await)
        .rediscover_every(Duration::from_millis(200))
        .register_metrics(&mut registry);
    let mut updates = start(source);
    let update = wait_for(&mut updates, "first set", published).await;
    assert_eq!(kinds(&update), Vec::<String>::new());

    let telemetry = istio(TELEMETRY, "v1", "Telemetry", "mesh-default", json!({}));
    api.set(
        "/apis/telemetry.istio.io/v1/telemetries",
        vec![telemetry],
        10,
    );
    api.change_served(|served| served.add(TELEMETRY, "v1", "Telemetry", "telemetries"));
    let update = wait_for(&mut updates, "Telemetry picked up", |u| {
        !kinds(u).is_empty()
    })
    .await;
    assert_eq!(kinds(&update), ["telemetry.istio.io/v1 Telemetry"]);
    let state = ConfigState::default();
    state.apply(&update);
    assert!(state.snapshot().rejected().is_empty());
    let text = metrics::text(&registry);
    let telemetry_missing = [r#"kind="Telemetry""#];
    assert!(
        metrics::has_sample(&text, "mesh_config_kinds_missing", &telemetry_missing, 0),
        "{text}"
    );

    api.change_served(|served| served.remove(TELEMETRY, "telemetries"));
    let update = wait_for(&mut updates, "Telemetry gone", |u| kinds(u).is_empty()).await;
    assert!(published(&update), "the rest stays");
}

#[tokio::test]
async fn a_kind_whose_lists_fail_does_not_hold_the_first_set_back() {
    let vs_path = "/apis/networking.istio.io/v1/virtualservices";
    let policies = "/apis/security.istio.io/v1/authorizationpolicies";
    let api = cluster(&[(vs_path, virtual_service("v1"))]);
    api.fail(policies, Some(500));
    // Served by discovery, gone when listed (its CRD deleted in between): never waited for.
    api.fail("/apis/networking.istio.io/v1/sidecars", Some(404));
    let source = source(api.serve().await).first_list_grace(Duration::from_secs(1));
    let mut updates = start(source);

    let update = wait_for(&mut updates, "first set", published).await;
    assert_eq!(kinds(&update), ["networking.istio.io/v1 VirtualService"]);

    let policy = istio(SECURITY, "v1", "AuthorizationPolicy", "deny-all", json!({}));
    api.set(policies, vec![policy], 11);
    api.fail(policies, None);
    let update = wait_for(&mut updates, "the policy once listed", |u| {
        kinds(u).len() == 2
    })
    .await;
    assert_eq!(
        kinds(&update),
        [
            "networking.istio.io/v1 VirtualService",
            "security.istio.io/v1 AuthorizationPolicy"
        ]
    );
}

#[tokio::test]
async fn a_kind_served_at_a_newer_version_later_moves_there_without_dropping_out() {
    let old = (
        "/apis/networking.istio.io/v1beta1/virtualservices",
        virtual_service("v1beta1"),
    );
    let api = cluster(&[old]);
    api.change_served(|served| served.only_versions(NETWORKING, &["v1beta1"]));
    let source = source(api.serve().await).rediscover_every(Duration::from_millis(200));
    let mut updates = start(source);
    let update = wait_for(&mut updates, "first set", published).await;
    assert_eq!(
        kinds(&update),
        ["networking.istio.io/v1beta1 VirtualService"]
    );

    let v1 = "/apis/networking.istio.io/v1/virtualservices";
    api.set(v1, vec![virtual_service("v1")], 20);
    api.change_served(|served| served.add(NETWORKING, "v1", "VirtualService", "virtualservices"));
    let moved = ["networking.istio.io/v1 VirtualService"];
    let guard = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            updates.changed().await.expect("source stopped");
            let now = kinds(&updates.borrow_and_update());
            assert_eq!(
                now.len(),
                1,
                "the VirtualService stays while its watch moves: {now:?}"
            );
            if now == moved {
                break;
            }
        }
    });
    guard.await.expect("never moved to v1");
}
