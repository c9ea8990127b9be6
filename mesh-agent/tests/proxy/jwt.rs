//! RequestAuthentication on a pod's inbound stack: tokens verified against an issuer's key set
//! fetched over HTTP, Envoy's 401s for forged and expired ones, no token passing, the claims
//! the app gets, a failed key fetch refusing that issuer's tokens; all counted.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use serde_json::json;

use crate::harness::client::Answer;
use crate::harness::config::{compile, pod};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::jwt::{now, JwksServer, SigningKey};
use crate::harness::metrics;
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;

const WEB: &str = "127.0.0.5";
const ISSUER: &str = "https://issuer.example";
const CLIENT: InboundClient = InboundClient {
    address: "127.0.0.9:40000",
    identity: None,
};

/// RequestAuthentications for `web`: `issuer.example` (keys at `jwks_uri`, `outputClaimToHeaders`)
/// and `down.example` (keys at `down_uri`).
fn config(jwks_uri: &str, down_uri: &str) -> String {
    format!(
        "{}apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n\
         metadata: {{name: web-jwt, namespace: shop}}\n\
         spec:\n  selector: {{matchLabels: {{app: web}}}}\n  jwtRules:\n\
         \x20 - {{issuer: '{ISSUER}', audiences: [shop], jwksUri: '{jwks_uri}', \
         outputClaimToHeaders: [{{header: x-user, claim: sub}}]}}\n\
         \x20 - {{issuer: down.example, jwksUri: '{down_uri}'}}\n",
        pod("web-0", "app: web", WEB)
    )
}

async fn get(agent: &Agent, app: &Upstream, token: Option<&str>) -> Answer {
    let mut request = Request::get("/hello").header("host", "web");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Full::new(Bytes::new())).unwrap();
    send_inbound(agent, &app.address.to_string(), CLIENT, request).await
}

#[tokio::test]
async fn valid_tokens_pass_with_their_claims_forged_and_expired_ones_get_401() {
    let (key, forger) = (SigningKey::new("k1"), SigningKey::new("k1"));
    let issuer = JwksServer::start(Some(&key.jwks)).await;
    let down = JwksServer::start(None).await;
    let agent = Agent::new(compile(&config(&issuer.uri(), &down.uri())));
    let app = Upstream::healthy(format!("{WEB}:0").parse().unwrap(), "web-0").await;
    let claims = json!({"iss": ISSUER, "sub": "alice", "aud": "shop", "exp": now() + 300});

    let valid = get(&agent, &app, Some(&key.sign(&claims))).await;
    assert_eq!(valid.status, 200, "{}", valid.body);
    assert_eq!(valid.headers["echo-x-user"], "alice");
    assert!(
        valid.headers.get("echo-authorization").is_none(),
        "the token stays with the mesh"
    );

    let forged = get(&agent, &app, Some(&forger.sign(&claims))).await;
    assert_eq!(
        (forged.status, forged.body.as_str()),
        (401, "Jwt verification fails")
    );
    let expired = json!({"iss": ISSUER, "sub": "alice", "aud": "shop", "exp": now() - 120});
    let expired = get(&agent, &app, Some(&key.sign(&expired))).await;
    assert_eq!(
        (expired.status, expired.body.as_str()),
        (401, "Jwt is expired")
    );
    let other_audience = json!({"iss": ISSUER, "sub": "alice", "aud": "bank"});
    let other_audience = get(&agent, &app, Some(&key.sign(&other_audience))).await;
    assert_eq!(other_audience.status, 403, "{}", other_audience.body);

    let anonymous = get(&agent, &app, None).await;
    assert_eq!(anonymous.status, 200, "no token: authorization decides");
    assert_eq!(app.seen(), 2, "refused requests never reach the app");

    let labels = [
        "reporter=\"destination\"",
        "response_code=\"401\"",
        "response_flags=\"-\"",
    ];
    assert_eq!(
        metrics::requests_total(&agent.registry, &labels, 2).await,
        2
    );
}

#[tokio::test]
async fn an_issuer_whose_keys_cannot_be_fetched_has_its_tokens_refused_until_they_can() {
    let key = SigningKey::new("k1");
    let issuer = JwksServer::start(Some(&key.jwks)).await;
    let down = JwksServer::start(None).await;
    let agent = Agent::new(compile(&config(&issuer.uri(), &down.uri())));
    let app = Upstream::healthy(format!("{WEB}:0").parse().unwrap(), "web-0").await;
    let token = key.sign(&json!({"iss": "down.example", "sub": "bob"}));

    let refused = get(&agent, &app, Some(&token)).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (401, "Jwks remote fetch is failed")
    );
    down.serve(Some(&key.jwks));
    tokio::time::sleep(mesh_agent::jwt::JWKS_RETRY).await;
    let accepted = get(&agent, &app, Some(&token)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

#[tokio::test]
async fn a_policy_requiring_a_request_principal_lets_the_token_in_and_keeps_the_anonymous_out() {
    let key = SigningKey::new("k1");
    let issuer = JwksServer::start(Some(&key.jwks)).await;
    let down = JwksServer::start(None).await;
    let policy = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
                  metadata: {name: needs-jwt, namespace: shop}\n\
                  spec: {selector: {matchLabels: {app: web}}, rules: [{from: [{source: \
                  {requestPrincipals: ['https://issuer.example/alice']}}]}]}\n---\n";
    let yaml = format!("{policy}{}", config(&issuer.uri(), &down.uri()));
    let agent = Agent::new(compile(&yaml));
    let app = Upstream::healthy(format!("{WEB}:0").parse().unwrap(), "web-0").await;
    let alice = json!({"iss": ISSUER, "sub": "alice", "aud": "shop"});
    let bob = json!({"iss": ISSUER, "sub": "bob", "aud": "shop"});
    assert_eq!(get(&agent, &app, Some(&key.sign(&alice))).await.status, 200);
    let other = get(&agent, &app, Some(&key.sign(&bob))).await;
    assert_eq!(
        (other.status, other.body.as_str()),
        (403, "RBAC: access denied")
    );
    let anonymous = get(&agent, &app, None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (403, "RBAC: access denied")
    );
}
