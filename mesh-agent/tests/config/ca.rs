//! `mesh-agent ca` end to end against the fake API server: TokenReview authenticates the
//! caller, node agents get only identities of pods on their node, chains verify to the root,
//! (the signing key, plug-in or kept self-signed root, and its publication: `ca_root.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesh_agent::ca::authn::Callers;
use mesh_agent::ca::client::{create_certificate, CaEndpoint};
use mesh_agent::ca::gateway_nodes::GatewayNodes;
use mesh_agent::ca::proto::IstioCertificateRequest;
use mesh_agent::ca::server::{serve, Ca};
use mesh_agent::ca::signer::Signer;
use mesh_agent::ca::{keys, Settings};
use serde_json::{json, Value};
use tonic::Code;
use x509_parser::prelude::*;

use crate::harness::fake_api::FakeApi;
use crate::harness::TempDir;

pub const AGENT_ON_NODE_1: &str = "token-of-the-agent-on-node-1";
const AGENT_ON_NODE_2: &str = "token-of-the-agent-on-node-2";
const GATEWAY_ID: &str =
    "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
const EGRESS_GATEWAY_ID: &str =
    "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account";
pub const CART: &str = "token-of-shop-cart";
pub const CART_ID: &str = "spiffe://cluster.local/ns/shop/sa/cart";
const PAYMENTS_ID: &str = "spiffe://cluster.local/ns/shop/sa/payments";
pub const DAY: Duration = Duration::from_secs(86_400);

fn pod(name: &str, sa: &str, node: &str, phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": "1"},
        "spec": {"nodeName": node, "serviceAccountName": sa, "containers": []},
        "status": {"phase": phase}})
}

/// Node `name`, labelled as running the `gateway` (`ingress` or `egress`) gateway.
fn node(name: &str, gateway: &str) -> Value {
    let label = format!("node-restriction.kubernetes.io/{gateway}-gateway");
    let labels = json!({"kubernetes.io/hostname": name, label: "true"});
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "resourceVersion": "1"}})
}

/// A fake cluster (node-1 runs the ingress gateway, node-2 the egress gateway; cart runs on node-1, payments on node-2 — a finished payments pod is still
/// listed on node-1) and a CA signing with `signer`.
pub async fn start(signer: Signer) -> (FakeApi, CaEndpoint) {
    let api = FakeApi::default();
    let pods = vec![
        pod("cart-1", "cart", "node-1", "Running"),
        pod("pay-1", "payments", "node-2", "Running"),
        pod("pay-job", "payments", "node-1", "Succeeded"),
    ];
    api.set("/api/v1/pods", pods, 1);
    api.set(
        "/api/v1/nodes",
        vec![node("node-1", "ingress"), node("node-2", "egress")],
        1,
    );
    for (token, node) in [(AGENT_ON_NODE_1, "node-1"), (AGENT_ON_NODE_2, "node-2")] {
        api.grant_token(
            token,
            json!({"username": "system:serviceaccount:mesh-system:mesh-agent",
                "extra": {"authentication.kubernetes.io/node-name": [node]}}),
        );
    }
    api.grant_token(CART, json!({"username": "system:serviceaccount:shop:cart"}));
    let api_addr = api.serve().await;
    let config = kube::Config::new(format!("http://{api_addr}").parse().unwrap());
    let settings = Settings {
        trust_domain: "cluster.local".into(),
        max_validity: DAY,
        node_agents: vec![("mesh-system".into(), "mesh-agent".into())],
        audience: "istio-ca".into(),
        gateways: GatewayNodes::default(),
    };
    let root = signer.root().to_owned();
    let ca = Ca {
        signer,
        callers: Callers::Kubernetes(kube::Client::try_from(config).unwrap()),
        settings,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { serve(ca.into(), listener, &["localhost".into()]).await });
    let endpoint = CaEndpoint {
        address,
        server_name: "localhost".into(),
        root,
    };
    (api, endpoint)
}

/// A CSR with a fresh P-256 key, naming `san` when given.
pub fn request(
    san: Option<&str>,
    impersonate: Option<&str>,
    validity: Duration,
) -> IstioCertificateRequest {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    if let Some(san) = san {
        params.subject_alt_names = vec![rcgen::SanType::URI(san.try_into().unwrap())];
    }
    let mut request = IstioCertificateRequest {
        csr: params.serialize_request(&key).unwrap().pem().unwrap(),
        validity_duration: i64::try_from(validity.as_secs()).unwrap(),
        metadata: None,
    };
    if let Some(identity) = impersonate {
        request.impersonate(identity);
    }
    request
}

/// Checks each certificate is signed by the next and the last is `root`; returns the leaf's
/// URI SANs and its remaining lifetime.
pub fn verify(chain: &[String], root: &str) -> (Vec<String>, Duration) {
    assert_eq!(
        chain.last().map(|c| c.trim()),
        Some(root.trim()),
        "root last"
    );
    let pems: Vec<Pem> = chain
        .iter()
        .map(|c| parse_x509_pem(c.as_bytes()).unwrap().1)
        .collect();
    let certs: Vec<X509Certificate> = pems.iter().map(|p| p.parse_x509().unwrap()).collect();
    for pair in certs.windows(2) {
        assert_eq!(
            pair[0].issuer().as_raw(),
            pair[1].subject().as_raw(),
            "issuer names"
        );
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .expect("signed by the next");
    }
    let leaf = &certs[0];
    let sans = leaf.subject_alternative_name().unwrap().unwrap().value;
    let uris = sans
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::URI(uri) => (*uri).to_owned(),
            other => panic!("only a URI SAN, not {other:?}"),
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = leaf.validity().not_after.timestamp().cast_unsigned() - now;
    (uris, Duration::from_secs(left))
}

/// A self-signed root kept in `dir`.
pub fn self_signed(dir: &TempDir) -> Signer {
    keys::self_signed(dir.path(), "cluster.local").unwrap()
}

#[tokio::test]
async fn a_node_agent_gets_the_identity_of_a_pod_on_its_node_capped_at_the_max_lifetime() {
    let dir = TempDir::new("ca-root");
    let (api, ca) = start(self_signed(&dir)).await;
    let asked = request(Some(CART_ID), Some(CART_ID), 7 * DAY);
    let answer = create_certificate(&ca, AGENT_ON_NODE_1, asked)
        .await
        .unwrap();
    assert_eq!(answer.cert_chain.len(), 2, "leaf and root");
    let (uris, left) = verify(&answer.cert_chain, &ca.root);
    assert_eq!(uris, [CART_ID]);
    assert!(
        left <= DAY && left > DAY - Duration::from_secs(60),
        "{left:?}"
    );
    let requests = api.requests();
    let reviewed = requests
        .iter()
        .any(|r| r.contains("tokenreviews audiences=[\"istio-ca\"]"));
    assert!(reviewed, "{requests:#?}");
    assert!(
        requests
            .iter()
            .any(|r| r.contains("fieldSelector=spec.nodeName%3Dnode-1")),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn an_identity_not_on_the_callers_node_is_refused_naming_it_and_the_node() {
    let dir = TempDir::new("ca-root");
    let (_api, ca) = start(self_signed(&dir)).await;
    let asked = request(Some(PAYMENTS_ID), Some(PAYMENTS_ID), DAY);
    let refused = create_certificate(&ca, AGENT_ON_NODE_1, asked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("shop/payments runs on node `node-1`"),
        "{refused:?}"
    );
    // A workload may not impersonate another either, even one on its node.
    let asked = request(Some(PAYMENTS_ID), Some(PAYMENTS_ID), DAY);
    let refused = create_certificate(&ca, CART, asked).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("only its own identity"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn only_the_agent_of_a_node_labelled_as_running_the_gateway_gets_the_gateway_identity() {
    let dir = TempDir::new("ca-root");
    let (api, ca) = start(self_signed(&dir)).await;
    let asked = request(Some(GATEWAY_ID), Some(GATEWAY_ID), DAY);
    let answer = create_certificate(&ca, AGENT_ON_NODE_1, asked)
        .await
        .unwrap();
    assert_eq!(verify(&answer.cert_chain, &ca.root).0, [GATEWAY_ID]);
    assert!(
        api.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/nodes/node-1")),
        "{:#?}",
        api.requests()
    );
    let asked = request(Some(GATEWAY_ID), Some(GATEWAY_ID), DAY);
    let refused = create_certificate(&ca, AGENT_ON_NODE_2, asked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let message = refused.message();
    assert!(
        message.contains("node `node-2` does not carry the label node-restriction.kubernetes.io/ingress-gateway=true"),
        "{message}"
    );
    // The label grants gateway identities only, never a workload's.
    let asked = request(Some(PAYMENTS_ID), Some(PAYMENTS_ID), DAY);
    let refused = create_certificate(&ca, AGENT_ON_NODE_1, asked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
}

#[tokio::test]
async fn only_the_agent_of_a_node_labelled_for_the_egress_gateway_gets_its_identity() {
    let dir = TempDir::new("ca-root");
    let (api, ca) = start(self_signed(&dir)).await;
    let asked = request(Some(EGRESS_GATEWAY_ID), Some(EGRESS_GATEWAY_ID), DAY);
    let answer = create_certificate(&ca, AGENT_ON_NODE_2, asked)
        .await
        .unwrap();
    assert_eq!(verify(&answer.cert_chain, &ca.root).0, [EGRESS_GATEWAY_ID]);
    assert!(
        api.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/nodes/node-2")),
        "{:#?}",
        api.requests()
    );
    // The ingress gateway's node plays only the ingress gateway.
    let asked = request(Some(EGRESS_GATEWAY_ID), Some(EGRESS_GATEWAY_ID), DAY);
    let refused = create_certificate(&ca, AGENT_ON_NODE_1, asked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let message = refused.message();
    assert!(
        message.contains("node `node-1` does not carry the label node-restriction.kubernetes.io/egress-gateway=true of the nodes running the egress gateway"),
        "{message}"
    );
}

#[tokio::test]
async fn a_workload_gets_its_own_identity_and_a_bad_token_nothing() {
    let dir = TempDir::new("ca-root");
    let (_api, ca) = start(self_signed(&dir)).await;
    let answer = create_certificate(&ca, CART, request(None, None, DAY))
        .await
        .unwrap();
    assert_eq!(verify(&answer.cert_chain, &ca.root).0, [CART_ID]);
    let refused = create_certificate(&ca, "expired-or-forged", request(None, None, DAY))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("not valid for audience `istio-ca`"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_rsa_csr_is_signed_and_a_forged_csr_signature_refused() {
    let dir = TempDir::new("ca-root");
    let (_api, ca) = start(self_signed(&dir)).await;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ca/rsa-2048.csr");
    let csr = std::fs::read_to_string(data).unwrap();
    let mut rsa = request(None, None, DAY);
    rsa.csr.clone_from(&csr);
    let answer = create_certificate(&ca, CART, rsa).await.unwrap();
    assert_eq!(verify(&answer.cert_chain, &ca.root).0, [CART_ID]);
    // One character of the signature changed (the last base64 line before the footer).
    let mut lines: Vec<String> = csr.lines().map(String::from).collect();
    let last = lines.len() - 2;
    let flipped = if lines[last].starts_with('A') {
        "B"
    } else {
        "A"
    };
    lines[last].replace_range(0..1, flipped);
    let mut forged = request(None, None, DAY);
    forged.csr = lines.join("\n");
    let refused = create_certificate(&ca, CART, forged).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("signature does not verify"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_csr_naming_another_identity_is_refused() {
    let dir = TempDir::new("ca-root");
    let (_api, ca) = start(self_signed(&dir)).await;
    let refused = create_certificate(&ca, CART, request(Some(PAYMENTS_ID), None, DAY))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let message = refused.message();
    assert!(
        message.contains(PAYMENTS_ID) && message.contains(CART_ID),
        "{message}"
    );
}
