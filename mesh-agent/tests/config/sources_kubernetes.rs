//! The Kubernetes source against a fake API server on loopback: first lists, field selectors,
//! metadata-only pods, watch events, and a `410 Gone` that forces a relist after which the watch
//! carries on.

use std::time::Duration;

use mesh_agent::document::{Origin, SourceUpdate};
use mesh_agent::sources::{KubernetesSource, WATCHED_KINDS};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::harness::fake_api::{FakeApi, Step};

const SERVICES: &str = "/api/v1/services";
const PODS: &str = "/api/v1/pods";

fn object(kind: &str, ns: &str, name: &str, rv: u64, extra: Value) -> Value {
    let mut object = json!({"kind": kind, "metadata": {
        "name": name, "namespace": ns, "resourceVersion": rv.to_string(), "labels": {"app": name},
    }});
    object
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    object
}

fn service(name: &str, port: u16, rv: u64) -> Value {
    object(
        "Service",
        "default",
        name,
        rv,
        json!({"spec": {"ports": [{"port": port}]}}),
    )
}

fn pod(name: &str, node: &str) -> Value {
    object(
        "Pod",
        "default",
        name,
        3,
        json!({"spec": {"nodeName": node, "containers": []}}),
    )
}

/// Everything the source watches that this test does not script starts out with one object
/// (or none) and a watch that stays quiet.
fn cluster() -> FakeApi {
    let api = FakeApi::default();
    api.set(SERVICES, vec![service("a", 80, 5)], 10);
    api.set(
        PODS,
        vec![pod("here", "node-1"), pod("there", "node-2")],
        10,
    );
    api.set(
        "/api/v1/namespaces",
        vec![object("Namespace", "", "default", 2, json!({}))],
        10,
    );
    api.set(
        "/api/v1/namespaces/istio-system/configmaps",
        vec![object(
            "ConfigMap",
            "istio-system",
            "istio",
            4,
            json!({"data": {"mesh": "{}"}}),
        )],
        10,
    );
    api.set(
        "/apis/networking.istio.io/v1/virtualservices",
        vec![object(
            "VirtualService",
            "default",
            "reviews",
            6,
            json!({"spec": {"hosts": ["reviews"]}}),
        )],
        10,
    );
    api
}

/// `Kind/name` (with `:port` for Services), in publication order.
fn summary(update: &SourceUpdate) -> Vec<String> {
    update
        .resources
        .iter()
        .map(|r| match r.body.pointer("/spec/ports/0/port") {
            Some(port) => format!("{}/{}:{port}", r.kind, r.name),
            None => format!("{}/{}", r.kind, r.name),
        })
        .collect()
}

/// The first update `done` accepts (bounded); shared by the Kubernetes source's test modules.
pub(crate) async fn wait_for(
    updates: &mut watch::Receiver<SourceUpdate>,
    what: &str,
    done: impl FnMut(&SourceUpdate) -> bool,
) -> SourceUpdate {
    let waited = tokio::time::timeout(Duration::from_secs(60), updates.wait_for(done)).await;
    let update = waited.unwrap_or_else(|_| panic!("never published: {what}"));
    update.expect("source stopped").clone()
}

fn start(api_addr: std::net::SocketAddr) -> watch::Receiver<SourceUpdate> {
    let config = kube::Config::new(format!("http://{api_addr}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let source = KubernetesSource::new(client, "node-1");
    let updates = source.subscribe();
    tokio::spawn(source.run());
    updates
}

#[tokio::test]
async fn publishes_every_kind_once_listed_with_own_node_pods_in_full() {
    let api = cluster();
    let mut updates = start(api.serve().await);
    let update = wait_for(&mut updates, "first set", |u| !u.resources.is_empty()).await;
    assert_eq!(
        summary(&update),
        [
            "Namespace/default",
            "Service/a:80",
            "Pod/here",
            "Pod/there",
            "ConfigMap/istio",
            "VirtualService/reviews"
        ]
    );
    let here = &update.resources[2];
    assert_eq!(
        here.body["spec"]["nodeName"], "node-1",
        "own-node pod is read in full"
    );
    let there = &update.resources[3];
    assert_eq!(there.body.get("spec"), None, "other pods are metadata only");
    assert_eq!(there.body["metadata"]["labels"]["app"], "there");
    assert_eq!(
        (there.api_version.as_str(), there.kind.as_str()),
        ("v1", "Pod")
    );
    let vs = &update.resources[5];
    assert_eq!(vs.api_version, "networking.istio.io/v1");
    assert_eq!(
        vs.origin,
        Origin::Cluster {
            resource_version: "6".into()
        }
    );

    let requests = api.requests();
    let seen = |path: &str, needle: &str| {
        requests
            .iter()
            .any(|r| r.starts_with(&format!("GET {path}?")) && r.contains(needle))
    };
    assert!(
        seen("/api/v1/pods", "fieldSelector=spec.nodeName%3Dnode-1"),
        "{requests:#?}"
    );
    assert!(seen("/api/v1/pods", "[metadata-only]"), "{requests:#?}");
    let configmaps = "/api/v1/namespaces/istio-system/configmaps";
    assert!(
        seen(configmaps, "fieldSelector=metadata.name%3Distio"),
        "{requests:#?}"
    );
    for kind in WATCHED_KINDS {
        let listed = requests
            .iter()
            .any(|r| r.contains(&format!("/{}?", kind.plural)));
        assert!(listed, "{} never listed", kind.plural);
    }
}

#[tokio::test]
async fn a_410_gone_forces_a_relist_and_the_watch_carries_on() {
    let api = cluster();
    api.script_watch(
        SERVICES,
        vec![
            Step::Event("ADDED", service("b", 81, 11)),
            // While the client is away, b goes and c arrives: only a relist can tell.
            Step::Replace(vec![service("a", 80, 5), service("c", 82, 19)], 20),
            Step::Gone,
        ],
    );
    api.script_watch(
        SERVICES,
        vec![Step::Event("MODIFIED", service("c", 99, 21))],
    );
    let mut updates = start(api.serve().await);

    let services = |u: &SourceUpdate| -> Vec<String> {
        summary(u)
            .into_iter()
            .filter(|s| s.starts_with("Service/"))
            .collect()
    };
    wait_for(&mut updates, "b added", |u| {
        services(u) == ["Service/a:80", "Service/b:81"]
    })
    .await;
    let after = wait_for(&mut updates, "relisted, c modified", |u| {
        services(u) == ["Service/a:80", "Service/c:99"]
    })
    .await;
    assert_eq!(
        after
            .resources
            .iter()
            .filter(|r| r.kind == "VirtualService")
            .count(),
        1
    );

    let requests = api.requests();
    let lists = requests
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/services?") && !r.contains("watch="))
        .count();
    assert_eq!(
        lists, 2,
        "one list at start, one after 410 Gone: {requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/services?")
                && r.contains("watch=true")
                && r.contains("resourceVersion=20")),
        "the watch resumes from the relist's resourceVersion: {requests:#?}"
    );
}
