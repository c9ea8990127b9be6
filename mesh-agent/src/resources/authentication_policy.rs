//! `authentication.istio.io/v1alpha1` `Policy` and `MeshPolicy`, as Istio 1.5 read them: removed
//! in Istio 1.6, still in tutorials. The mesh applies them as the PeerAuthentication,
//! RequestAuthentication and AuthorizationPolicy they stand for (`snapshot/authn_policy/`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Peer (mTLS) and origin (JWT) authentication for the targeted services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationPolicySpec {
    /// The Services (of the policy's namespace) it applies to; none: the whole namespace.
    pub targets: Vec<LegacyTargetSelector>,
    pub peers: Vec<PeerMethod>,
    pub peer_is_optional: bool,
    pub origins: Vec<OriginMethod>,
    pub origin_is_optional: bool,
    pub principal_binding: Option<PrincipalBinding>,
}

/// A Service by name, optionally some of its ports and a label refinement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyTargetSelector {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<LegacyPortSelector>,
}

/// A Service port by number or by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyPortSelector {
    pub number: Option<u32>,
    pub name: Option<String>,
}

/// How a peer authenticates: mutual TLS (a peer `jwt` was deprecated before 1.5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerMethod {
    pub mtls: Option<LegacyMutualTls>,
    pub jwt: Option<LegacyJwt>,
}

/// `peers[].mtls`: its mode, STRICT when absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyMutualTls {
    pub mode: Option<LegacyMtlsMode>,
    pub allow_tls: bool,
}

/// `peers[].mtls.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LegacyMtlsMode {
    Strict,
    Permissive,
}

/// How the end user authenticates: a JWT.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OriginMethod {
    pub jwt: LegacyJwt,
}

/// A JWT issuer of Istio 1.5's API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyJwt {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<String>,
    pub jwt_headers: Vec<String>,
    pub jwt_params: Vec<String>,
    pub trigger_rules: Vec<TriggerRule>,
}

/// Paths on which the JWT is required (`includedPaths`) or not (`excludedPaths`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TriggerRule {
    pub excluded_paths: Vec<LegacyStringMatch>,
    pub included_paths: Vec<LegacyStringMatch>,
}

/// One of `exact`, `prefix`, `suffix`, `regex`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyStringMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub regex: Option<String>,
}

/// Which identity was the request's principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrincipalBinding {
    UsePeer,
    UseOrigin,
}
