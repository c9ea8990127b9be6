//! Tokens made here with a fresh P-256 key: verification, Envoy's refusals, the app's headers.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hyper::{HeaderMap, Uri};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::jwt::{verify, JwksFetch, CLOCK_SKEW};
use crate::snapshot::Snapshot;

/// The snapshot of `yaml`, which must compile without errors.
pub(crate) fn snapshot_of(yaml: &str) -> Snapshot {
    let path = std::path::Path::new("t.yaml");
    let documents = crate::document::parse_documents(path, yaml).unwrap();
    let (snapshot, problems) = crate::snapshot::build(&Arc::new(documents), None);
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    snapshot
}

/// The one rule of a RequestAuthentication whose `jwtRules` is `[rule]`.
pub(crate) fn issuer_with(rule: &str) -> Arc<JwtIssuer> {
    let yaml = format!(
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n\
         metadata: {{name: r, namespace: shop}}\nspec: {{jwtRules: [{rule}]}}\n"
    );
    snapshot_of(&yaml).jwt_policies("shop")[0].issuers[0].clone()
}

/// An ECDSA P-256 signing key and its JWKS.
pub(crate) struct TestKey {
    encoding: EncodingKey,
    pub jwks: String,
}

impl TestKey {
    pub(crate) fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        Self {
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwks: json!({"keys": [jwk]}).to_string(),
        }
    }

    pub(crate) fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

fn now() -> u64 {
    super::now()
}

fn rule(key: &TestKey, extra: &str) -> Arc<JwtIssuer> {
    let jwks = key.jwks.replace('"', "\\\"");
    issuer_with(&format!(
        "{{issuer: issuer.example, jwks: \"{jwks}\"{extra}}}"
    ))
}

fn keys(key: &TestKey) -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_str(&key.jwks).unwrap()
}

#[test]
fn a_signed_token_verifies_and_names_its_principal() {
    let key = TestKey::new("k1");
    let claims = json!({"iss": "issuer.example", "sub": "alice", "aud": ["shop"], "azp": "web",
                        "exp": now() + 60, "groups": ["dev"]});
    let auth = verify(
        &key.sign("k1", &claims),
        &rule(&key, ""),
        &keys(&key),
        now(),
    )
    .unwrap();
    assert_eq!(auth.principal, "issuer.example/alice");
    assert_eq!(auth.audiences, ["shop"]);
    assert_eq!(auth.presenter.as_deref(), Some("web"));
    assert_eq!(auth.claim_strings(&["groups"]), ["dev"]);
}

#[test]
fn refusals_carry_envoys_messages() {
    let (key, other) = (TestKey::new("k1"), TestKey::new("k1"));
    let rule = rule(&key, ", audiences: ['https://shop.example/']");
    let claims = |extra: Value| {
        let mut c = json!({"iss": "issuer.example", "sub": "alice", "aud": "shop.example"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let t = now();
    let cases = [
        (key.sign("k1", &claims(json!({"exp": t + 5}))), None),
        (
            key.sign("k1", &claims(json!({"exp": t - CLOCK_SKEW + 1}))),
            None,
        ),
        (
            key.sign("k1", &claims(json!({"exp": t - CLOCK_SKEW - 1}))),
            Some(JwtFailure::Expired),
        ),
        (
            key.sign("k1", &claims(json!({"nbf": t + CLOCK_SKEW + 5}))),
            Some(JwtFailure::NotYetValid),
        ),
        (
            key.sign("k1", &claims(json!({"aud": "bank"}))),
            Some(JwtFailure::AudienceNotAllowed),
        ),
        (
            key.sign("k1", &claims(json!({"iss": "other"}))),
            Some(JwtFailure::UnknownIssuer),
        ),
        (
            key.sign("k2", &claims(json!({}))),
            Some(JwtFailure::NoMatchingKey),
        ),
        (
            other.sign("k1", &claims(json!({}))),
            Some(JwtFailure::VerificationFails),
        ),
        ("not-a-token".to_string(), Some(JwtFailure::BadFormat)),
    ];
    for (token, expected) in cases {
        let outcome = verify(&token, &rule, &keys(&key), t).err();
        assert_eq!(outcome, expected, "{token}");
    }
    assert_eq!(JwtFailure::Expired.to_string(), "Jwt is expired");
    assert_eq!(JwtFailure::VerificationFails.status(), 401);
    assert_eq!(JwtFailure::AudienceNotAllowed.status(), 403);
    assert_eq!(
        JwtFailure::Expired.details(),
        "jwt_authn_access_denied{Jwt_is_expired}"
    );
}

/// A fetch that never answers: inline keys must not need it.
struct NoFetch;

impl JwksFetch for NoFetch {
    fn fetch(&self, _: &str) -> futures::future::BoxFuture<'static, Result<String, String>> {
        Box::pin(futures::future::pending())
    }
}

fn authenticator() -> Authenticator {
    Authenticator::new(JwksCache::new(Arc::new(NoFetch)))
}

#[tokio::test]
async fn the_app_gets_claims_and_payload_and_not_the_token_unless_forwarded() {
    let key = TestKey::new("k1");
    let outputs = ", outputPayloadToHeader: x-jwt-payload, \
                   outputClaimToHeaders: [{header: x-sub, claim: sub}, {header: x-team, claim: org.team}]";
    let rule = rule(&key, outputs);
    let token = key.sign(
        "k1",
        &json!({"iss": "issuer.example", "sub": "alice", "org": {"team": "mesh"}}),
    );
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let uri = Uri::from_static("/");
    let auth = authenticator()
        .authenticate(&[rule], &mut headers, &uri)
        .await;
    assert_eq!(auth.unwrap().unwrap().principal, "issuer.example/alice");
    assert!(
        headers.get("authorization").is_none(),
        "forwardOriginalToken is false by default"
    );
    assert_eq!(headers["x-sub"], "alice");
    assert_eq!(headers["x-team"], "mesh");
    let payload = URL_SAFE_NO_PAD
        .decode(headers["x-jwt-payload"].as_bytes())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&payload).unwrap()["sub"],
        "alice"
    );

    let forwarding = rule_forwarding(&key);
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    authenticator()
        .authenticate(&[forwarding], &mut headers, &uri)
        .await
        .unwrap();
    assert!(headers.get("authorization").is_some());
}

fn rule_forwarding(key: &TestKey) -> Arc<JwtIssuer> {
    rule(key, ", forwardOriginalToken: true")
}

#[tokio::test]
async fn no_token_passes_unauthenticated_and_a_bad_one_is_refused() {
    let key = TestKey::new("k1");
    let rules = [rule(&key, "")];
    let uri = Uri::from_static("/");
    let mut headers = HeaderMap::new();
    assert_eq!(
        authenticator()
            .authenticate(&rules, &mut headers, &uri)
            .await,
        Ok(None)
    );
    headers.insert("authorization", "Bearer a.b.c".parse().unwrap());
    let refused = authenticator()
        .authenticate(&rules, &mut headers, &uri)
        .await;
    assert!(refused.is_err(), "{refused:?}");
}
