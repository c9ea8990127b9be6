//! `networking.istio.io` EnvoyFilter (v1alpha3): patches to the configuration Istio would give
//! Envoy. The mesh has no Envoy; it acts on the patches of Istio's local rate-limit task
//! ([`super::envoy_patch`] reads them) and reports every other patch as unsupported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The EnvoyFilter spec; `patch.value` is Envoy's own configuration, kept as written (its
/// fields already renamed to their JSON names).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilterSpec {
    pub workload_selector: Option<EnvoyFilterSelector>,
    pub target_refs: Vec<Value>,
    pub config_patches: Vec<EnvoyConfigPatch>,
    pub priority: i32,
}

/// The workloads an EnvoyFilter applies to, by label; absent: every workload in its namespace
/// (in the root namespace: every workload of the mesh).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilterSelector {
    pub labels: BTreeMap<String, String>,
}

/// One patch: what it applies to, where, and the change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyConfigPatch {
    pub apply_to: Option<String>,
    #[serde(rename = "match")]
    pub matches: Option<PatchMatch>,
    pub patch: Option<PatchChange>,
}

/// Where a patch applies: the proxy side and the listener, route configuration or cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PatchMatch {
    pub context: Option<PatchContext>,
    pub proxy: Option<Value>,
    pub listener: Option<Value>,
    pub route_configuration: Option<Value>,
    pub cluster: Option<Value>,
}

/// Which traffic of the selected workloads a patch applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatchContext {
    /// Every side.
    #[default]
    Any,
    /// Requests the workload receives.
    SidecarInbound,
    /// Requests the workload sends.
    SidecarOutbound,
    /// Requests entering through the ingress gateway.
    Gateway,
}

impl PatchContext {
    /// Whether a patch written for `self` applies on side `side`.
    pub fn covers(self, side: PatchContext) -> bool {
        self == PatchContext::Any || self == side
    }
}

/// The change: an operation and, for most, Envoy configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PatchChange {
    pub operation: Option<String>,
    pub value: Option<Value>,
    pub filter_class: Option<String>,
}
