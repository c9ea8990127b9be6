//! RequestAuthentications compiled for the request path: each `jwtRules` entry as a
//! [`JwtIssuer`] (where its tokens are, which keys verify them, what reaches the app), inline
//! key sets parsed once here rather than per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;

use super::scope::PolicyScope;
use crate::resources::{Istio, JwtRule, RequestAuthenticationSpec};

/// The default wait for a remote key set (Istio's `timeout` default).
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Compiled RequestAuthentications by namespace, each namespace's in name order.
pub type JwtByNamespace = HashMap<String, Vec<Arc<JwtPolicy>>>;

/// One RequestAuthentication.
#[derive(Debug, Serialize)]
pub struct JwtPolicy {
    pub namespace: String,
    pub name: String,
    pub scope: PolicyScope,
    pub issuers: Vec<Arc<JwtIssuer>>,
}

/// One `jwtRules` entry.
#[derive(Debug, Serialize)]
pub struct JwtIssuer {
    pub issuer: String,
    /// Accepted audiences; empty: any.
    pub audiences: Vec<String>,
    pub keys: JwksSource,
    pub locations: Vec<TokenLocation>,
    /// Whether the token's header reaches the app (`forwardOriginalToken`).
    pub forward_original_token: bool,
    pub output_payload_to_header: Option<String>,
    /// `(header, claim path)`: a nested claim's path split at dots.
    pub output_claim_to_headers: Vec<(String, Vec<String>)>,
    /// How long a request waits for the remote key set.
    pub timeout: Duration,
}

/// Where a rule's keys come from.
#[derive(Debug, Serialize)]
pub enum JwksSource {
    /// `jwks`, parsed.
    #[serde(serialize_with = "inline_keys")]
    Inline(Arc<JwkSet>),
    /// `jwksUri`, fetched by the agent.
    Remote(String),
    /// Neither `jwks` nor `jwksUri`: the issuer's OpenID configuration
    /// (`<issuer>/.well-known/openid-configuration`) names the key set, as istiod finds it.
    Discovery(String),
    /// `jwks` is not a key set: every token of this issuer is rejected, as Envoy does with an
    /// unusable key set.
    Unusable(String),
}

fn inline_keys<S: serde::Serializer>(keys: &Arc<JwkSet>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{} inline keys", keys.keys.len()))
}

/// Where a token may be: a header (after its prefix), a query parameter, a cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TokenLocation {
    Header { name: String, prefix: String },
    Param(String),
    Cookie(String),
}

/// Compiles every namespace's RequestAuthentications.
pub(crate) fn compile_all(
    policies: &HashMap<String, Vec<Arc<Istio<RequestAuthenticationSpec>>>>,
) -> JwtByNamespace {
    policies
        .iter()
        .map(|(ns, list)| {
            let compiled = list.iter().map(|p| Arc::new(compile(ns, p))).collect();
            (ns.clone(), compiled)
        })
        .collect()
}

/// One RequestAuthentication of `namespace` (validation has checked its values).
pub fn compile(namespace: &str, policy: &Istio<RequestAuthenticationSpec>) -> JwtPolicy {
    let spec = &policy.spec;
    JwtPolicy {
        namespace: namespace.to_string(),
        name: policy.metadata.name.clone().unwrap_or_default(),
        scope: PolicyScope::of(
            spec.selector.as_ref(),
            spec.target_ref.as_ref(),
            &spec.target_refs,
        ),
        issuers: spec.jwt_rules.iter().map(|r| Arc::new(issuer(r))).collect(),
    }
}

fn issuer(rule: &JwtRule) -> JwtIssuer {
    JwtIssuer {
        issuer: rule.issuer.clone(),
        audiences: rule.audiences.clone(),
        keys: keys(rule),
        locations: locations(rule),
        forward_original_token: rule.forward_original_token.unwrap_or(false),
        output_payload_to_header: rule
            .output_payload_to_header
            .clone()
            .filter(|h| !h.is_empty()),
        output_claim_to_headers: rule
            .output_claim_to_headers
            .iter()
            .map(|c| {
                (
                    c.header.to_ascii_lowercase(),
                    c.claim.split('.').map(str::to_string).collect(),
                )
            })
            .collect(),
        timeout: rule.timeout.as_ref().map_or(JWKS_TIMEOUT, |t| t.value),
    }
}

/// Inline `jwks` wins over `jwksUri`, as istiod decides.
fn keys(rule: &JwtRule) -> JwksSource {
    if let Some(jwks) = rule.jwks.as_deref().filter(|j| !j.is_empty()) {
        return match serde_json::from_str::<JwkSet>(jwks) {
            Ok(set) => JwksSource::Inline(Arc::new(set)),
            Err(e) => JwksSource::Unusable(format!("jwks is not a JSON Web Key Set: {e}")),
        };
    }
    match rule.jwks_uri.as_deref().filter(|u| !u.is_empty()) {
        Some(uri) => JwksSource::Remote(uri.to_string()),
        None => JwksSource::Discovery(format!(
            "{}/.well-known/openid-configuration",
            rule.issuer.trim_end_matches('/')
        )),
    }
}

/// The locations named, else Envoy's defaults: `Authorization: Bearer <token>`, then the
/// `access_token` query parameter.
fn locations(rule: &JwtRule) -> Vec<TokenLocation> {
    let headers = rule.from_headers.iter().map(|h| TokenLocation::Header {
        name: h.name.to_ascii_lowercase(),
        prefix: h.prefix.clone().unwrap_or_default(),
    });
    let params = rule.from_params.iter().cloned().map(TokenLocation::Param);
    let cookies = rule.from_cookies.iter().cloned().map(TokenLocation::Cookie);
    let named: Vec<TokenLocation> = headers.chain(params).chain(cookies).collect();
    if !named.is_empty() {
        return named;
    }
    vec![
        TokenLocation::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        },
        TokenLocation::Param("access_token".into()),
    ]
}
