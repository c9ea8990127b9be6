//! The plug-in CA signs with its intermediate in the chain; where the CA's self-signed root is kept: created once in a directory or a Secret, and the
//! same root signs after a restart or in another replica; the root published in every namespace.

use mesh_agent::ca::{keys, publish, root_secret};
use serde_json::json;

use mesh_agent::ca::client::create_certificate;

use super::ca::{request, self_signed, start, verify, CART, CART_ID, DAY};
use crate::harness::fake_api::FakeApi;
use crate::harness::TempDir;

const SECRETS: &str = "/api/v1/namespaces/mesh-system/secrets";

#[test]
fn a_self_signed_root_is_created_once_and_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("ca-root");
    let first = self_signed(&dir).root().to_owned();
    let again = self_signed(&dir).root().to_owned();
    assert_eq!(first, again, "a restart signs with the same root");
    let mode = std::fs::metadata(dir.path().join("ca-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::remove_file(dir.path().join("root-cert.pem")).unwrap();
    let err = keys::self_signed(dir.path(), "cluster.local")
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("holds only one of root-cert.pem and ca-key.pem"),
        "{err:#}"
    );
}

async fn secrets_api() -> (FakeApi, kube::Client) {
    let api = FakeApi::default();
    api.set(SECRETS, vec![], 1);
    let addr = api.serve().await;
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    (api, kube::Client::try_from(config).unwrap())
}

#[tokio::test]
async fn a_self_signed_root_is_created_once_in_its_secret_and_reused() {
    let (api, client) = secrets_api().await;
    let keep = || {
        root_secret::self_signed(
            client.clone(),
            "mesh-system",
            "istio-ca-secret",
            "cluster.local",
        )
    };
    let first = keep().await.unwrap().root().to_owned();
    let again = keep().await.unwrap().root().to_owned();
    assert_eq!(
        first, again,
        "a restart or another replica signs with the same root"
    );
    let requests = api.requests();
    let created: Vec<_> = requests.iter().filter(|r| r.starts_with("POST")).collect();
    assert_eq!(created, [&format!("POST {SECRETS}")], "{requests:#?}");
}

#[tokio::test]
async fn a_root_secret_without_its_key_is_refused_naming_it() {
    let (api, client) = secrets_api().await;
    let broken = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "istio-ca-secret", "namespace": "mesh-system"},
        "data": {"ca-cert.pem": "bm90IGEgY2VydA=="}});
    api.set(SECRETS, vec![broken], 2);
    let err = root_secret::self_signed(client, "mesh-system", "istio-ca-secret", "cluster.local")
        .await
        .err()
        .unwrap();
    let message = format!("{err:#}");
    assert!(
        message.contains("Secret mesh-system/istio-ca-secret has no `ca-key.pem`"),
        "{message}"
    );
}

#[tokio::test]
async fn the_root_is_published_in_every_namespace_as_istio_does() {
    let (api, client) = secrets_api().await;
    let namespace = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "resourceVersion": "1"}})
    };
    api.set(
        "/api/v1/namespaces",
        vec![namespace("shop"), namespace("mesh-system")],
        1,
    );
    for ns in ["shop", "mesh-system"] {
        api.set(&format!("/api/v1/namespaces/{ns}/configmaps"), vec![], 1);
    }
    let dir = TempDir::new("ca-root");
    let root = self_signed(&dir).root().to_owned();
    publish::publish_once(&client, &root).await.unwrap();
    publish::publish_once(&client, &root).await.unwrap();
    for ns in ["shop", "mesh-system"] {
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let url = format!("{path}/istio-ca-root-cert");
        let maps: Vec<_> = api
            .requests()
            .into_iter()
            .filter(|r| r.contains(&url))
            .collect();
        assert_eq!(maps.len(), 2, "applied each time: {maps:?}");
        let config_map: k8s_openapi::api::core::v1::ConfigMap =
            kube::Api::namespaced(client.clone(), ns)
                .get("istio-ca-root-cert")
                .await
                .unwrap();
        let data = config_map.data.unwrap();
        assert_eq!(data.get("root-cert.pem"), Some(&root), "{ns}");
    }
}

#[tokio::test]
async fn the_plug_in_ca_signs_and_its_intermediate_is_in_the_chain() {
    let dir = TempDir::new("ca-plug-in");
    let root_key = rcgen::KeyPair::generate().unwrap();
    let mut root = rcgen::CertificateParams::default();
    root.distinguished_name
        .push(rcgen::DnType::CommonName, "plug-in root");
    root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let root = root.self_signed(&root_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut intermediate = rcgen::CertificateParams::default();
    intermediate
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cluster-1 intermediate");
    intermediate.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let intermediate = intermediate.signed_by(&key, &root, &root_key).unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write("ca-cert.pem", intermediate.pem());
    write("ca-key.pem", key.serialize_pem());
    write("cert-chain.pem", intermediate.pem() + &root.pem());
    write("root-cert.pem", root.pem());
    let (_api, ca) = start(keys::plug_in(dir.path()).unwrap()).await;
    assert_eq!(ca.root.trim(), root.pem().trim());
    let answer = create_certificate(&ca, CART, request(None, None, DAY))
        .await
        .unwrap();
    assert_eq!(answer.cert_chain.len(), 3, "leaf, intermediate, root");
    assert_eq!(answer.cert_chain[1].trim(), intermediate.pem().trim());
    assert_eq!(verify(&answer.cert_chain, &ca.root).0, [CART_ID]);
}
