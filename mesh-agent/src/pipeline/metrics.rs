//! The pipeline's own metrics: `mesh_config_reloads_total{result}`,
//! `mesh_config_rejected_resources` and (owned by [`super::unsupported`])
//! `mesh_config_unsupported_fields{kind,field}`.

use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::unsupported::UnsupportedFields;

/// How one reload went: the `result` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ReloadResult {
    /// Every resource accepted, every document read.
    Success,
    /// Some resources were rejected (their last good version serves where there is one).
    RejectedResources,
    /// The source could not read some files or objects (their previous documents stay).
    SourceErrors,
    /// The build itself failed; the previous snapshot keeps serving.
    Failed,
}

impl ReloadResult {
    /// The label value: `success`, `rejected_resources`, `source_errors`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::RejectedResources => "rejected_resources",
            Self::SourceErrors => "source_errors",
            Self::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for ReloadResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: ReloadResult,
}

/// Reload counter, rejected-resources gauge and the unsupported fields of the set in force.
#[derive(Debug, Default)]
pub struct ConfigMetrics {
    reloads: Family<ReloadLabels, Counter>,
    rejected: Gauge,
    /// What the set in force carries that the mesh does not act on.
    pub unsupported: UnsupportedFields,
}

impl ConfigMetrics {
    /// Registers the pipeline's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let metrics = Self {
            unsupported: UnsupportedFields::register(registry),
            ..Self::default()
        };
        registry.register(
            "mesh_config_reloads",
            "Configuration reloads, by result",
            metrics.reloads.clone(),
        );
        registry.register(
            "mesh_config_rejected_resources",
            "Resources and documents the last reload refused",
            metrics.rejected.clone(),
        );
        Arc::new(metrics)
    }

    /// Counts a reload that swapped a snapshot in with `rejected` resources refused.
    pub fn record(&self, result: ReloadResult, rejected: usize) {
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        self.rejected.set(rejected as i64);
    }

    /// Counts a reload whose build failed.
    pub fn record_failure(&self) {
        let labels = ReloadLabels {
            result: ReloadResult::Failed,
        };
        self.reloads.get_or_create(&labels).inc();
    }
}
