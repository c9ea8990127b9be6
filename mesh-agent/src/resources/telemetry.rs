//! `telemetry.istio.io` Telemetry (v1alpha1, v1): which metrics are recorded, at what rate
//! requests are traced and whether they are logged, mesh-wide (root namespace), per namespace
//! or per workload (`selector`). The mesh honours `metrics[].overrides[].disabled` (all metrics,
//! per mode), `tracing[].randomSamplingPercentage` and `accessLogging[].disabled`; the other
//! fields are read, and the validator says which ones are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::WorkloadSelector;

/// The spec of a Telemetry resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TelemetrySpec {
    pub selector: Option<WorkloadSelector>,
    pub target_ref: Option<super::PolicyTargetRef>,
    pub target_refs: Vec<super::PolicyTargetRef>,
    pub tracing: Vec<TracingConfig>,
    pub metrics: Vec<MetricsConfig>,
    pub access_logging: Vec<AccessLoggingConfig>,
}

/// A telemetry backend, by its name in MeshConfig `extensionProviders` (or a built-in one:
/// `prometheus`, `envoy`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderRef {
    pub name: String,
}

/// Which side of a connection a setting is for: the client's proxy (Istio's reporter `source`),
/// the server's (`destination`), or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkloadMode {
    #[default]
    ClientAndServer,
    Client,
    Server,
}

impl WorkloadMode {
    /// Whether the mode covers the client side.
    pub fn client(self) -> bool {
        matches!(self, Self::ClientAndServer | Self::Client)
    }

    /// Whether the mode covers the server side.
    pub fn server(self) -> bool {
        matches!(self, Self::ClientAndServer | Self::Server)
    }
}

/// Metrics settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsConfig {
    pub providers: Vec<ProviderRef>,
    pub overrides: Vec<MetricsOverride>,
    pub reporting_interval: Option<String>,
}

/// Turns metrics (or their tags) on or off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsOverride {
    #[serde(rename = "match")]
    pub matches: Option<MetricSelector>,
    pub disabled: Option<bool>,
    pub tag_overrides: BTreeMap<String, Value>,
}

/// Which metrics an override is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricSelector {
    /// `ALL_METRICS` (the default), `REQUEST_COUNT`, `TCP_SENT_BYTES`, …
    pub metric: Option<String>,
    pub custom_metric: Option<String>,
    pub mode: WorkloadMode,
}

impl MetricSelector {
    /// Whether the selector names every metric (no metric, or `ALL_METRICS`).
    pub fn all_metrics(&self) -> bool {
        self.custom_metric.is_none()
            && self
                .metric
                .as_deref()
                .is_none_or(|metric| metric == "ALL_METRICS")
    }
}

/// Tracing settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TracingConfig {
    #[serde(rename = "match")]
    pub matches: Option<ModeSelector>,
    pub providers: Vec<ProviderRef>,
    /// Percent of requests traced, 0–100; overrides MeshConfig `defaultConfig.tracing.sampling`.
    pub random_sampling_percentage: Option<f64>,
    pub disable_span_reporting: Option<bool>,
    pub custom_tags: BTreeMap<String, Value>,
    pub use_request_id_for_trace_sampling: Option<bool>,
}

/// Access-log settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLoggingConfig {
    #[serde(rename = "match")]
    pub matches: Option<ModeSelector>,
    pub providers: Vec<ProviderRef>,
    pub disabled: Option<bool>,
    pub filter: Option<AccessLogFilter>,
}

/// A CEL filter on access-log entries (read, not evaluated).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessLogFilter {
    pub expression: String,
}

/// Which side a tracing or access-log setting is for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModeSelector {
    pub mode: WorkloadMode,
}

impl ModeSelector {
    /// The mode of an optional selector (both sides when absent).
    pub fn mode_of(selector: &Option<Self>) -> WorkloadMode {
        selector.as_ref().map(|s| s.mode).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_s_switch_off_reads() {
        let yaml = "metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}]\n\
                    tracing: [{randomSamplingPercentage: 0}]\n\
                    accessLogging: [{disabled: true}]\n";
        let spec: TelemetrySpec = serde_yaml::from_str(yaml).unwrap();
        let metrics = &spec.metrics[0];
        assert_eq!(metrics.providers[0].name, "prometheus");
        assert_eq!(metrics.overrides[0].disabled, Some(true));
        assert!(metrics.overrides[0].matches.is_none());
        assert_eq!(spec.tracing[0].random_sampling_percentage, Some(0.0));
        assert_eq!(spec.access_logging[0].disabled, Some(true));
    }

    #[test]
    fn selectors_and_modes_read() {
        let yaml = "selector: {matchLabels: {app: web}}\n\
                    metrics: [{overrides: [{match: {metric: REQUEST_COUNT, mode: SERVER}, disabled: true}]}]\n\
                    accessLogging: [{match: {mode: CLIENT}, providers: [{name: envoy}]}]\n";
        let spec: TelemetrySpec = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(spec.selector.unwrap().match_labels["app"], "web");
        let selector = spec.metrics[0].overrides[0].matches.clone().unwrap();
        assert_eq!(selector.mode, WorkloadMode::Server);
        assert!(!selector.all_metrics());
        let mode = ModeSelector::mode_of(&spec.access_logging[0].matches);
        assert!(mode.client() && !mode.server());
    }
}
