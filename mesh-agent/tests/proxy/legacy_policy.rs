//! The seed tutorial's `authentication.istio.io/v1alpha1` Policy protecting a service,
//! in-process: applied as the PeerAuthentication (STRICT), RequestAuthentication and
//! AuthorizationPolicy it stands for, a request without a token is refused (403) as Istio 1.5
//! refused it, a valid token passes, a forged one gets 401, the excluded path needs none.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use serde_json::json;

use crate::harness::client::Answer;
use crate::harness::config::{compile, pod, service};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::jwt::{JwksServer, SigningKey};
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;

const WEB: &str = "127.0.0.5";
const ISSUER: &str = "testing@secure.istio.io";
const CLIENT: InboundClient = InboundClient {
    address: "127.0.0.9:40000",
    identity: Some("spiffe://cluster.local/ns/shop/sa/sleep"),
};

/// Service `web` (port 80 → 8000), its pod, and the tutorial's Policy with keys at `jwks_uri`.
fn config(jwks_uri: &str) -> String {
    let policy = format!(
        "apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\n\
         metadata: {{name: jwt-example, namespace: shop}}\n\
         spec:\n  targets: [{{name: web}}]\n  peers: [{{mtls: {{}}}}]\n  origins:\n\
         \x20 - jwt:\n      issuer: '{ISSUER}'\n      jwksUri: '{jwks_uri}'\n\
         \x20     triggerRules: [{{excludedPaths: [{{exact: /health}}]}}]\n\
         \x20 principalBinding: USE_ORIGIN\n"
    );
    service("web", "10.96.0.10", "http", 8000) + &pod("web-0", "app: web", WEB) + &policy
}

async fn get(agent: &Agent, app: &Upstream, path: &str, token: Option<&str>) -> Answer {
    let mut request = Request::get(path).header("host", "web");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Full::new(Bytes::new())).unwrap();
    send_inbound(agent, &app.address.to_string(), CLIENT, request).await
}

#[tokio::test]
async fn the_tutorial_policy_requires_a_valid_token_as_istio_1_5_did() {
    let (key, forger) = (SigningKey::new("k1"), SigningKey::new("k1"));
    let issuer = JwksServer::start(Some(&key.jwks)).await;
    let agent = Agent::new(compile(&config(&issuer.uri())));
    let app = Upstream::healthy(format!("{WEB}:8000").parse().unwrap(), "web-0").await;

    let missing = get(&agent, &app, "/headers", None).await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (403, "RBAC: access denied")
    );
    let claims = json!({"iss": ISSUER, "sub": "alice"});
    let valid = get(&agent, &app, "/headers", Some(&key.sign(&claims))).await;
    assert_eq!(valid.status, 200, "{}", valid.body);
    let forged = get(&agent, &app, "/headers", Some(&forger.sign(&claims))).await;
    assert_eq!(forged.status, 401);
    let health = get(&agent, &app, "/health", None).await;
    assert_eq!(health.status, 200, "triggerRules exclude /health");
    assert_eq!(app.seen(), 2, "refused requests never reach the app");

    let snapshot = agent.inputs.config.snapshot();
    let labels = [("app".to_string(), "web".to_string())].into();
    let mode = snapshot.peer_authentication_mode("shop", &labels, 8000);
    assert_eq!(mode, mesh_agent::snapshot::PeerAuthenticationMode::Strict);
}
