//! The Kubernetes source reads TLS Secrets (field selector `type=kubernetes.io/tls`, as Istio's
//! ingress gateway does) so HTTPS gateway servers find their `credentialName` in a cluster too:
//! first list, a watch event, and the Secret in the compiled snapshot — and only in the
//! namespaces it is given (`--secret-namespaces`), never cluster-wide.

use std::time::Duration;

use mesh_agent::document::SourceUpdate;
use mesh_agent::pipeline::ConfigState;
use mesh_agent::sources::KubernetesSource;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::harness::fake_api::{FakeApi, Step};

const SECRETS: &str = "/api/v1/namespaces/edge/secrets";
const EVERY_SECRET: &str = "/api/v1/secrets";

/// `tls.crt` / `tls.key` as the API server sends them (base64).
fn secret(name: &str, kind: &str, rv: u64) -> Value {
    json!({
        "kind": "Secret", "type": kind,
        "metadata": {"name": name, "namespace": "edge", "resourceVersion": rv.to_string()},
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    })
}

fn start(api_addr: std::net::SocketAddr) -> watch::Receiver<SourceUpdate> {
    let config = kube::Config::new(format!("http://{api_addr}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let source = KubernetesSource::new(client, "node-1").secret_namespaces(&["edge".into()]);
    let updates = source.subscribe();
    tokio::spawn(source.run());
    updates
}

fn secrets(update: &SourceUpdate) -> Vec<String> {
    let secrets = update.resources.iter().filter(|r| r.kind == "Secret");
    secrets.map(|r| r.name.clone()).collect()
}

async fn wait_for_secrets(
    updates: &mut watch::Receiver<SourceUpdate>,
    wanted: &[&str],
) -> SourceUpdate {
    let done = |u: &SourceUpdate| secrets(u) == wanted;
    let waited = tokio::time::timeout(Duration::from_secs(60), updates.wait_for(done)).await;
    let update = waited.unwrap_or_else(|_| panic!("never published: {wanted:?}"));
    update.expect("source stopped").clone()
}

#[tokio::test]
async fn tls_secrets_are_listed_watched_and_reach_the_snapshot() {
    let api = FakeApi::default();
    let opaque = secret("db-password", "Opaque", 3);
    api.set(
        SECRETS,
        vec![secret("web-cert", "kubernetes.io/tls", 4), opaque],
        10,
    );
    let added = secret("api-cert", "kubernetes.io/tls", 11);
    api.script_watch(SECRETS, vec![Step::Event("ADDED", added)]);
    let mut updates = start(api.serve().await);

    let update = wait_for_secrets(&mut updates, &["api-cert", "web-cert"]).await;
    let requests = api.requests();
    let listed = requests.iter().any(|r| {
        r.starts_with(&format!("GET {SECRETS}?"))
            && r.contains("fieldSelector=type%3Dkubernetes.io%2Ftls")
    });
    assert!(listed, "secrets listed by type: {requests:#?}");
    let everywhere = requests
        .iter()
        .any(|r| r.contains(&format!(" {EVERY_SECRET}?")) || r.contains("/istio-system/secrets"));
    assert!(
        !everywhere,
        "Secrets are read in `edge` only: {requests:#?}"
    );

    let state = ConfigState::default();
    state.apply(&update);
    let snapshot = state.snapshot();
    let cert = snapshot
        .secret("edge", "web-cert")
        .expect("web-cert in force");
    let data = cert.data.as_ref().expect("data");
    assert_eq!(data["tls.crt"].0, b"cert");
    assert_eq!(data["tls.key"].0, b"key");
    assert!(snapshot.secret("edge", "api-cert").is_some());
    assert!(snapshot.secret("edge", "db-password").is_none(), "not TLS");
}
