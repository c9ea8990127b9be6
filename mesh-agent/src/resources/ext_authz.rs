//! MeshConfig `extensionProviders[].envoyExtAuthzHttp` / `envoyExtAuthzGrpc`: the external
//! authorizers CUSTOM AuthorizationPolicies name, in Istio's field names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::Duration;

/// An authorizer spoken to with Envoy's HTTP ext_authz protocol.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtAuthzHttp {
    /// `[namespace/]hostname` of the authorizer.
    pub service: String,
    pub port: u16,
    /// How long a check may take (Istio's default: 600ms).
    pub timeout: Option<Duration>,
    /// Put before the request's path in the check request.
    pub path_prefix: String,
    /// Let the request through when the authorizer cannot be reached or fails.
    pub fail_open: bool,
    /// The status a failed check answers (default 403).
    pub status_on_error: Option<String>,
    /// Request headers sent to the authorizer (exact, `prefix*`, `*suffix`), besides `Host`,
    /// `Method`, `Path` and `Content-Length`.
    pub include_request_headers_in_check: Vec<String>,
    /// Headers added to every check request.
    pub include_additional_headers_in_check: BTreeMap<String, String>,
    /// Authorizer headers that reach the app when allowed.
    pub headers_to_upstream_on_allow: Vec<String>,
    /// Authorizer headers that reach the client when denied (unset: all).
    pub headers_to_downstream_on_deny: Vec<String>,
    /// Authorizer headers that reach the client when allowed.
    pub headers_to_downstream_on_allow: Vec<String>,
    pub include_request_body_in_check: Option<BodyInCheck>,
}

/// An authorizer spoken to with Envoy's gRPC `envoy.service.auth.v3.Authorization/Check`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtAuthzGrpc {
    pub service: String,
    pub port: u16,
    pub timeout: Option<Duration>,
    pub fail_open: bool,
    pub status_on_error: Option<String>,
    pub include_request_body_in_check: Option<BodyInCheck>,
}

/// How much of the request body goes with the check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BodyInCheck {
    /// At most this many bytes are buffered.
    pub max_request_bytes: u32,
    /// A longer body is cut to `max_request_bytes` instead of answered 413.
    pub allow_partial_message: bool,
    /// gRPC: the body as bytes (`raw_body`) rather than a string.
    pub pack_as_bytes: bool,
}
