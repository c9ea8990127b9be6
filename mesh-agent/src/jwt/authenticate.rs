//! A request's end-user authentication: every token found in the rules' locations is verified
//! by the rule of its issuer (a token no rule there claims is refused); a request without one
//! passes unauthenticated, as Istio's RequestAuthentication lets it (authorization decides).
//! On success the app gets what the rules say: the token header removed unless
//! `forwardOriginalToken`, the payload and claims in headers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Uri};
use serde_json::Value;

use super::extract::{find_tokens, FoundToken};
use super::verify::{check_claims, check_signature, parse, request_auth};
use super::{JwksCache, JwtFailure};
use crate::facts::RequestAuth;
use crate::snapshot::{JwksSource, JwtIssuer, TokenLocation};

/// Verifies tokens; shared by every connection. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Authenticator {
    jwks: JwksCache,
}

impl Authenticator {
    pub fn new(jwks: JwksCache) -> Self {
        Self { jwks }
    }

    /// The request's end user under `issuers` (`None`: no token), its headers edited for the
    /// app; or why a token was refused.
    pub async fn authenticate(
        &self,
        issuers: &[Arc<JwtIssuer>],
        headers: &mut HeaderMap,
        uri: &Uri,
    ) -> Result<Option<RequestAuth>, JwtFailure> {
        let found = find_tokens(issuers, headers, uri);
        let mut verified = Vec::with_capacity(found.len());
        for token in &found {
            verified.push(self.verify(token).await?);
        }
        for ((issuer, auth), token) in verified.iter().zip(&found) {
            output(issuer, auth, token, headers);
        }
        Ok(verified.into_iter().next().map(|(_, auth)| auth))
    }

    /// The token checked by the rule of its issuer among those that look where it was found.
    async fn verify(
        &self,
        found: &FoundToken,
    ) -> Result<(Arc<JwtIssuer>, RequestAuth), JwtFailure> {
        let parsed = parse(&found.token)?;
        let issuer = found
            .issuers
            .iter()
            .find(|i| parsed.issuer() == Some(i.issuer.as_str()))
            .ok_or(JwtFailure::UnknownIssuer)?;
        check_claims(&parsed, issuer, now())?;
        let keys = match &issuer.keys {
            JwksSource::Inline(keys) => keys.clone(),
            JwksSource::Remote(uri) => self.jwks.keys(uri, issuer.timeout).await?,
            JwksSource::Discovery(config) => {
                self.jwks.discovered_keys(config, issuer.timeout).await?
            }
            JwksSource::Unusable(_) => return Err(JwtFailure::NoMatchingKey),
        };
        check_signature(&found.token, &parsed.header, &keys)?;
        Ok((issuer.clone(), request_auth(parsed)))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the app gets of a verified token.
fn output(issuer: &JwtIssuer, auth: &RequestAuth, found: &FoundToken, headers: &mut HeaderMap) {
    if let (false, TokenLocation::Header { name, .. }) =
        (issuer.forward_original_token, &found.location)
    {
        headers.remove(name.as_str());
    }
    if let Some(name) = &issuer.output_payload_to_header {
        let payload = found.token.split('.').nth(1).unwrap_or_default();
        set(headers, name, payload);
    }
    for (name, path) in &issuer.output_claim_to_headers {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let value = match auth.claim(&path) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => continue,
        };
        set(headers, name, &value);
    }
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
#[path = "authenticate_tests.rs"]
pub(crate) mod tests;
