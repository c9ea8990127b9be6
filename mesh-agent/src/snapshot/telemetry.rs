//! Telemetry resources resolved for one workload, the way Istio layers them: a Telemetry in the
//! workload's namespace whose `selector` matches its labels, else the namespace's Telemetry
//! without selector, else the root namespace's (mesh-wide). Each section (metrics, tracing,
//! access logging) is taken from the most specific Telemetry that sets it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::model::Labels;
use crate::facts::Reporter;
use crate::resources::{Istio, ModeSelector, TelemetrySpec, WorkloadMode};

/// Telemetry resources by namespace, each list in name order.
pub type TelemetryByNamespace = HashMap<String, Vec<Arc<Istio<TelemetrySpec>>>>;

/// What telemetry a workload's proxy side records: the Telemetry resources' settings, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TelemetryPolicy {
    /// Istio metrics recorded when the workload is the client (reporter `source`).
    pub client_metrics: bool,
    /// Istio metrics recorded when the workload is the server (reporter `destination`).
    pub server_metrics: bool,
    /// `randomSamplingPercentage`, overriding MeshConfig's sampling.
    pub sampling_percent: Option<f64>,
    /// Access logs on or off on the client side; `None`: as MeshConfig says.
    pub client_access_log: Option<bool>,
    /// Access logs on or off on the server side; `None`: as MeshConfig says.
    pub server_access_log: Option<bool>,
}

// Percentages are validated (0–100), never NaN.
impl Eq for TelemetryPolicy {}

impl Default for TelemetryPolicy {
    /// No Telemetry resource: every metric recorded, MeshConfig decides the rest.
    fn default() -> Self {
        Self {
            client_metrics: true,
            server_metrics: true,
            sampling_percent: None,
            client_access_log: None,
            server_access_log: None,
        }
    }
}

impl TelemetryPolicy {
    /// Whether Istio's metrics are recorded on the `reporter` side.
    pub fn metrics(&self, reporter: Reporter) -> bool {
        match reporter {
            Reporter::source => self.client_metrics,
            Reporter::destination => self.server_metrics,
        }
    }

    /// Whether the `reporter` side logs, when a Telemetry decides it.
    pub fn access_log(&self, reporter: Reporter) -> Option<bool> {
        match reporter {
            Reporter::source => self.client_access_log,
            Reporter::destination => self.server_access_log,
        }
    }

    /// Whether some side turns access logs on.
    pub fn enables_access_log(&self) -> bool {
        self.client_access_log == Some(true) || self.server_access_log == Some(true)
    }
}

/// The policy of a workload in `namespace` with `labels`; `root` is the mesh's root namespace.
pub fn resolve(
    telemetry: &TelemetryByNamespace,
    root: &str,
    namespace: &str,
    labels: &Labels,
) -> TelemetryPolicy {
    let own = telemetry
        .get(namespace)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mesh_wide = match namespace == root {
        true => &[][..],
        false => telemetry.get(root).map(Vec::as_slice).unwrap_or_default(),
    };
    let selected = own.iter().filter(|t| selects(t, labels));
    let namespace_wide = own.iter().filter(|t| t.spec.selector.is_none());
    let unselected = mesh_wide.iter().filter(|t| t.spec.selector.is_none());
    let layers: Vec<&TelemetrySpec> = selected
        .chain(namespace_wide)
        .chain(unselected)
        .map(|t| &t.spec)
        .collect();
    let mut policy = TelemetryPolicy::default();
    if let Some(spec) = layers.iter().find(|s| !s.metrics.is_empty()) {
        apply_metrics(&mut policy, spec);
    }
    if let Some(spec) = layers.iter().find(|s| !s.tracing.is_empty()) {
        let mut rates = spec
            .tracing
            .iter()
            .filter_map(|t| t.random_sampling_percentage);
        policy.sampling_percent = rates.next_back();
    }
    if let Some(spec) = layers.iter().find(|s| !s.access_logging.is_empty()) {
        apply_access_logging(&mut policy, spec);
    }
    policy
}

fn selects(telemetry: &Istio<TelemetrySpec>, labels: &Labels) -> bool {
    let Some(selector) = &telemetry.spec.selector else {
        return false;
    };
    let wanted = &selector.match_labels;
    wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn apply_metrics(policy: &mut TelemetryPolicy, spec: &TelemetrySpec) {
    let overrides = spec.metrics.iter().flat_map(|m| &m.overrides);
    for o in overrides {
        let selector = o.matches.clone().unwrap_or_default();
        let Some(disabled) = o.disabled.filter(|_| selector.all_metrics()) else {
            continue;
        };
        set_sides(
            selector.mode,
            !disabled,
            &mut policy.client_metrics,
            &mut policy.server_metrics,
        );
    }
}

fn apply_access_logging(policy: &mut TelemetryPolicy, spec: &TelemetrySpec) {
    for config in &spec.access_logging {
        let on = !config.disabled.unwrap_or(false);
        let mode = ModeSelector::mode_of(&config.matches);
        let (mut client, mut server) = (policy.client_access_log, policy.server_access_log);
        if mode.client() {
            client = Some(on);
        }
        if mode.server() {
            server = Some(on);
        }
        (policy.client_access_log, policy.server_access_log) = (client, server);
    }
}

fn set_sides(mode: WorkloadMode, value: bool, client: &mut bool, server: &mut bool) {
    if mode.client() {
        *client = value;
    }
    if mode.server() {
        *server = value;
    }
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
