//! The agent's workload certificates against the real CA in-process (its API server faked): a
//! pod enrolled gets its ServiceAccount's certificate chained to the CA's root; its leaving drops
//! it (one certificate per identity, shared by its pods: the store's unit tests); an identity the CA does not place on the agent's node is
//! refused; `/certs` shows identities, serials, validity and chains, never a key.

use std::sync::Arc;

use hyper::Method;
use mesh_agent::admin_routes::AgentEndpoints;
use mesh_agent::ca::authn::Callers;
use mesh_agent::ca::client::{create_certificate, CaEndpoint};
use mesh_agent::ca::server::{serve, Ca};
use mesh_agent::ca::Settings;
use mesh_agent::certs::{Backoff, CaIssuer, CertificateMetrics, NodeCertificates};
use mesh_agent::identity::{Identity, WorkloadCertificates as _};
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::ca::{self, AGENT_ON_NODE_1, CART_ID, DAY};
use crate::harness::config::compile;
use crate::harness::enrollment::{add_line, namespace, Setup, TestEnrollment, NODE};
use crate::harness::{wait_until, TempDir};

const OWN_NETNS: &str = "/proc/self/ns/net";
const IP: &str = "127.0.0.1";
const PAYMENTS_ID: &str = "spiffe://cluster.local/ns/shop/sa/payments";

fn pod(name: &str, service_account: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, uid: uid-{name}}}\n\
         spec: {{nodeName: {NODE}, serviceAccountName: {service_account}, \
         containers: [{{name: app, image: app}}]}}\n---\n"
    )
}

/// The agent on node-1 (its token), the CA knowing cart on node-1 and payments on node-2.
struct Node {
    enrollment: TestEnrollment,
    certificates: Arc<NodeCertificates>,
    metrics: CertificateMetrics,
    ca: CaEndpoint,
    _dirs: [TempDir; 3],
}

async fn node() -> Node {
    let root = TempDir::new("certs-root");
    let (_api, ca) = ca::start(ca::self_signed(&root)).await;
    let token = TempDir::new("certs-token");
    std::fs::write(token.path().join("istio-token"), AGENT_ON_NODE_1).unwrap();
    std::fs::write(token.path().join("root-cert.pem"), &ca.root).unwrap();
    let issuer = CaIssuer {
        address: ca.address.clone(),
        server_name: ca.server_name.clone(),
        root_file: token.path().join("root-cert.pem"),
        token_file: token.path().join("istio-token"),
        validity: DAY,
    };
    let metrics = CertificateMetrics::default();
    let certificates = Arc::new(NodeCertificates::new(
        "cluster.local".into(),
        Arc::new(issuer),
        metrics.clone(),
        Backoff::default(),
    ));
    let view = [
        namespace("shop", "istio.io/dataplane-mode: ambient"),
        pod("cart-1", "cart"),
        pod("pay-9", "payments"),
    ]
    .concat();
    let state = TempDir::new("certs-state");
    let mut setup = Setup::in_own_netns(compile(&view), &state);
    setup.certificates = Some(certificates.clone());
    Node {
        enrollment: setup.start(),
        certificates,
        metrics,
        ca,
        _dirs: [root, token, state],
    }
}

async fn enroll(node: &Node, pod: &str) {
    let response = node
        .enrollment
        .handle(&add_line("shop", pod, OWN_NETNS, IP))
        .await;
    assert!(response.ok, "{response:?}");
}

async fn remove(node: &Node, pod: &str) {
    let line = format!(r#"{{"op":"remove","namespace":"shop","name":"{pod}"}}"#);
    assert!(node.enrollment.handle(&line).await.ok);
}

fn certs_json(certificates: &Arc<NodeCertificates>) -> (String, Value) {
    let endpoints = AgentEndpoints::new(Arc::new(Registry::default()), None)
        .with_certificates(Some(certificates.clone()));
    let (status, _, body) = endpoints.answer(&Method::GET, "/certs", None).unwrap();
    assert!(status.is_success(), "{status}");
    let json = serde_json::from_str(&body).unwrap();
    (body, json)
}

#[tokio::test]
async fn an_enrolled_pod_gets_its_service_accounts_certificate_until_it_leaves() {
    let node = node().await;
    enroll(&node, "cart-1").await;
    let cart = Identity::parse(CART_ID).unwrap();
    let certificate = node.certificates.certificate(&cart).await.unwrap();
    assert_eq!(certificate.identity, cart);
    let (body, json) = certs_json(&node.certificates);
    assert!(!body.contains("PRIVATE KEY"), "never a key: {body}");
    let listed = json["certificates"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "one certificate per ServiceAccount: {body}"
    );
    assert_eq!(listed[0]["identity"], CART_ID);
    assert_eq!(listed[0]["pods"], serde_json::json!(["shop/cart-1"]));
    assert_eq!(listed[0]["serial"], certificate.serial.as_str());
    let pems = |key: &str| -> Vec<String> {
        let list = listed[0][key].as_array().unwrap();
        list.iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    };
    let chain = [pems("chain"), pems("roots")].concat();
    let (uris, left) = ca::verify(&chain, &node.ca.root);
    assert_eq!(uris, [CART_ID]);
    assert!(left > DAY - std::time::Duration::from_secs(120), "{left:?}");
    assert_eq!(node.metrics.held(), 1);

    remove(&node, "cart-1").await;
    assert!(node.certificates.summaries().is_empty());
    let held = node.metrics.clone();
    wait_until("the dropped certificate uncounted", || held.held() == 0).await;
}

#[tokio::test]
async fn the_ca_refuses_an_identity_it_does_not_place_on_the_agents_node() {
    let node = node().await;
    enroll(&node, "pay-9").await;
    let payments = Identity::parse(PAYMENTS_ID).unwrap();
    let err = node.certificates.certificate(&payments).await.unwrap_err();
    let err = err.to_string();
    assert!(err.starts_with("the CA refused a certificate for"), "{err}");
    assert!(err.contains("node `node-1`"), "{err}");
    assert_eq!(node.metrics.failures("refused"), 1);
    let (_, json) = certs_json(&node.certificates);
    let listed = &json["certificates"][0];
    assert_eq!(listed["identity"], PAYMENTS_ID);
    assert!(listed["serial"].is_null());
    assert!(
        listed["failure"]
            .as_str()
            .unwrap()
            .contains("PermissionDenied"),
        "{json}"
    );
}

/// The CA without an API server (the lab's): callers and pods from its `--token-file`, read at
/// each request, so a pod listed later is signed without restarting it.
#[tokio::test]
async fn a_ca_with_a_static_token_file_authorizes_as_with_the_api_server() {
    let dir = TempDir::new("certs-static");
    let tokens = dir.path().join("tokens.yaml");
    let listing = |pods: &str| {
        let text = format!(
            "tokens:\n- {{token: {AGENT_ON_NODE_1}, serviceAccount: mesh-system/mesh-agent, node: node-1}}\n\
             pods:\n{pods}"
        );
        std::fs::write(&tokens, text).unwrap();
    };
    listing("- {node: node-1, serviceAccount: shop/cart}\n");
    let settings = Settings {
        trust_domain: "cluster.local".into(),
        max_validity: DAY,
        node_agents: vec![("mesh-system".into(), "mesh-agent".into())],
        audience: "istio-ca".into(),
        gateways: mesh_agent::ca::gateway_nodes::GatewayNodes::default(),
    };
    let signer = ca::self_signed(&dir);
    let root = signer.root().to_owned();
    let server = Ca {
        signer,
        callers: Callers::StaticFile(tokens.clone()),
        settings,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { serve(server.into(), listener, &["localhost".into()]).await });
    let endpoint = CaEndpoint {
        address,
        server_name: "localhost".into(),
        root,
    };
    let ask = |id: &str, token: &str| {
        let (endpoint, asked) = (endpoint.clone(), ca::request(Some(id), Some(id), DAY));
        let token = token.to_owned();
        async move { create_certificate(&endpoint, &token, asked).await }
    };
    let signed = ask(CART_ID, AGENT_ON_NODE_1).await.unwrap();
    assert_eq!(ca::verify(&signed.cert_chain, &endpoint.root).0, [CART_ID]);
    let refused = ask(PAYMENTS_ID, AGENT_ON_NODE_1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let unknown = ask(CART_ID, "not-listed").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated, "{unknown:?}");
    listing("- {node: node-1, serviceAccount: shop/payments}\n");
    ask(PAYMENTS_ID, AGENT_ON_NODE_1).await.unwrap();
}
