//! Typed mesh resources: Istio's `networking.istio.io`, `security.istio.io` and
//! `telemetry.istio.io` kinds in every API version tutorials use (older spellings accepted),
//! Istio 1.5's `authentication.istio.io` Policy, core Kubernetes kinds (and NetworkPolicy) through
//! `k8s-openapi`, and the mesh-wide MeshConfig. [`parse`] turns a
//! raw document into one of them.

mod authentication_policy;
mod destination_rule;
mod duration;
mod envoy_filter;
mod envoy_global;
mod envoy_match;
pub mod envoy_patch;
mod ext_authz;
mod gateway;
pub mod global_rate_limit;
pub mod local_rate_limit;
mod mesh_config;
mod parse;
#[cfg(test)]
mod parse_tests;
mod pattern;
pub mod pod_limits;
mod proto_names;
mod regex_rewrite;
mod security;
mod telemetry;
pub(crate) mod telemetry_check;
mod virtual_service;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

pub use authentication_policy::*;
pub use destination_rule::*;
pub use duration::{parse_duration, Duration, DurationError};
pub use envoy_filter::*;
pub use ext_authz::*;
pub use gateway::*;
pub use mesh_config::*;
pub use parse::{parse, Parsed};
pub use pattern::Pattern;
pub use regex_rewrite::RegexRewrite;
pub use security::*;
pub use telemetry::*;
pub use virtual_service::*;

/// An Istio resource: Kubernetes metadata and a typed `spec`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Istio<S> {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: S,
    #[serde(default, skip_serializing)]
    pub status: Option<serde_json::Value>,
}

/// Every kind the mesh reads, typed. Held behind an `Arc` in snapshots, so variant sizes
/// do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Resource {
    VirtualService(Istio<VirtualServiceSpec>),
    DestinationRule(Istio<DestinationRuleSpec>),
    Gateway(Istio<GatewaySpec>),
    ServiceEntry(Istio<ServiceEntrySpec>),
    Sidecar(Istio<SidecarSpec>),
    EnvoyFilter(Istio<EnvoyFilterSpec>),
    AuthorizationPolicy(Istio<AuthorizationPolicySpec>),
    PeerAuthentication(Istio<PeerAuthenticationSpec>),
    RequestAuthentication(Istio<RequestAuthenticationSpec>),
    Telemetry(Istio<TelemetrySpec>),
    /// `authentication.istio.io/v1alpha1` Policy or MeshPolicy (Istio 1.5), applied converted.
    AuthenticationPolicy(Istio<AuthenticationPolicySpec>),
    /// `networking.k8s.io/v1` NetworkPolicy: its ingress rules, for what the agent delivers.
    NetworkPolicy(NetworkPolicy),
    Namespace(Namespace),
    Service(Service),
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
    Pod(Pod),
    Secret(Secret),
    ConfigMap(ConfigMap),
    /// The `mesh` key of ConfigMap `istio-system/istio`.
    MeshConfig(Box<MeshConfig>),
}
