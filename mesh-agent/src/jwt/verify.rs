//! One token checked as Envoy's `jwt_authn` checks it, in its order: the form, the issuer, the
//! time window (`exp`, `nbf`, with [`CLOCK_SKEW`]), the audiences, then the signature against
//! the issuer's keys (the key named by `kid`, else every key of the token's algorithm).

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;

use super::JwtFailure;
use crate::facts::RequestAuth;
use crate::snapshot::JwtIssuer;

/// Envoy's default `clock_skew_seconds` (Istio sets none).
pub const CLOCK_SKEW: u64 = 60;

/// A token read but not verified yet.
#[derive(Debug)]
pub struct Parsed {
    pub header: Header,
    pub claims: Value,
}

impl Parsed {
    /// The `iss` claim.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

/// The token's header and payload, unverified.
pub fn parse(token: &str) -> Result<Parsed, JwtFailure> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtFailure::BadFormat);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtFailure::HeaderBadJson)?;
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .map_err(|_| JwtFailure::BadFormat)?;
    let claims: Value = serde_json::from_slice(&payload).map_err(|_| JwtFailure::PayloadBadJson)?;
    if !claims.is_object() {
        return Err(JwtFailure::PayloadBadJson);
    }
    Ok(Parsed { header, claims })
}

/// The time window and the audiences of `parsed` for `rule`, at `now` (seconds since the epoch).
pub fn check_claims(parsed: &Parsed, rule: &JwtIssuer, now: u64) -> Result<(), JwtFailure> {
    let seconds = |name| parsed.claims.get(name).and_then(Value::as_u64);
    if seconds("exp").is_some_and(|exp| now > exp.saturating_add(CLOCK_SKEW)) {
        return Err(JwtFailure::Expired);
    }
    if seconds("nbf").is_some_and(|nbf| nbf > now.saturating_add(CLOCK_SKEW)) {
        return Err(JwtFailure::NotYetValid);
    }
    let audiences = audiences(&parsed.claims);
    let allowed = rule.audiences.is_empty()
        || audiences
            .iter()
            .any(|a| rule.audiences.iter().any(|r| same_audience(a, r)));
    if !allowed {
        return Err(JwtFailure::AudienceNotAllowed);
    }
    Ok(())
}

/// The whole check of `token` for `rule` with `keys`, at `now`.
pub fn verify(
    token: &str,
    rule: &JwtIssuer,
    keys: &JwkSet,
    now: u64,
) -> Result<RequestAuth, JwtFailure> {
    let parsed = parse(token)?;
    if parsed.issuer() != Some(rule.issuer.as_str()) {
        return Err(JwtFailure::UnknownIssuer);
    }
    check_claims(&parsed, rule, now)?;
    check_signature(token, &parsed.header, keys)?;
    Ok(request_auth(parsed))
}

/// The signature of `token` under one of `keys`.
pub fn check_signature(token: &str, header: &Header, keys: &JwkSet) -> Result<(), JwtFailure> {
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| {
            header.kid.is_none() || k.common.key_id.is_none() || k.common.key_id == header.kid
        })
        .filter(|k| fits(k, header.alg))
        .collect();
    if candidates.is_empty() {
        return Err(JwtFailure::NoMatchingKey);
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let verified = candidates.iter().any(|jwk| {
        DecodingKey::from_jwk(jwk)
            .and_then(|key| jsonwebtoken::decode::<Value>(token, &key, &validation))
            .is_ok()
    });
    verified.then_some(()).ok_or(JwtFailure::VerificationFails)
}

/// The facts of a verified token.
pub fn request_auth(parsed: Parsed) -> RequestAuth {
    let text = |name| {
        parsed
            .claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    RequestAuth {
        principal: format!("{}/{}", text("iss"), text("sub")),
        audiences: audiences(&parsed.claims),
        presenter: parsed
            .claims
            .get("azp")
            .and_then(Value::as_str)
            .map(str::to_string),
        claims: parsed.claims,
    }
}

/// `aud`: a string or a list of strings.
fn audiences(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Audiences compare without their `http(s)://` scheme and trailing `/`, as Envoy compares them.
fn same_audience(a: &str, b: &str) -> bool {
    let bare = |s: &str| {
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        s.trim_end_matches('/').to_string()
    };
    bare(a) == bare(b)
}

/// Whether `jwk` can verify `alg`: its key type fits and its own `alg`, when given, is `alg`.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use Algorithm as A;
    let kind = matches!(
        (&jwk.algorithm, alg),
        (
            AlgorithmParameters::RSA(_),
            A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
        ) | (AlgorithmParameters::EllipticCurve(_), A::ES256 | A::ES384)
            | (
                AlgorithmParameters::OctetKey(_),
                A::HS256 | A::HS384 | A::HS512
            )
            | (AlgorithmParameters::OctetKeyPair(_), A::EdDSA)
    );
    let named = jwk
        .common
        .key_algorithm
        .is_none_or(|k| format!("{k:?}") == format!("{alg:?}"));
    kind && named
}
