//! Tracing settings, resolved once from the mesh config (DESIGN §6): `enableTracing`,
//! `defaultConfig.tracing.sampling` and the OpenTelemetry collector of `extensionProviders`.

use super::export::BatchSettings;
use crate::resources::MeshConfig;

/// Istio's default mesh id (the trust domain).
pub const DEFAULT_MESH_ID: &str = "cluster.local";
/// Spans queued for export before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 2048;

/// Where an OTLP collector listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorAddress {
    /// The collector Service's hostname (or an IP).
    pub host: String,
    /// Its OTLP/gRPC port (4317 usually).
    pub port: u16,
}

/// Everything the tracer needs to know.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingSettings {
    /// `enableTracing`: off means no spans and no trace headers touched.
    pub enabled: bool,
    /// Percent of undecided requests sampled (0–100).
    pub sampling_percent: f64,
    /// Where spans go; without one, contexts are still propagated but no span is kept.
    pub collector: Option<CollectorAddress>,
    /// `istio.mesh_id` on every span.
    pub mesh_id: String,
    /// Bound of the export queue.
    pub queue_capacity: usize,
    /// Batching of export calls.
    pub batch: BatchSettings,
}

impl TracingSettings {
    /// The settings `mesh` asks for; the collector is the first OpenTelemetry provider.
    pub fn from_mesh(mesh: &MeshConfig) -> Self {
        let collector = mesh
            .extension_providers
            .iter()
            .filter_map(|provider| provider.opentelemetry.as_ref())
            .find(|c| !c.service.is_empty() && c.port != 0)
            .map(|c| CollectorAddress {
                host: c.service.clone(),
                port: c.port,
            });
        Self {
            enabled: mesh.enable_tracing,
            sampling_percent: mesh.default_config.tracing.sampling,
            collector,
            mesh_id: DEFAULT_MESH_ID.into(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            batch: BatchSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_defaults_trace_one_percent_with_nowhere_to_send() {
        let settings = TracingSettings::from_mesh(&MeshConfig::default());
        assert!(settings.enabled);
        assert_eq!(settings.sampling_percent, 1.0);
        assert_eq!(settings.collector, None);
    }

    #[test]
    fn the_opentelemetry_provider_is_the_collector() {
        let yaml = "enableTracing: true\ndefaultConfig: {tracing: {sampling: 25}}\n\
                    extensionProviders:\n- name: zipkin\n  zipkin: {service: zipkin.istio-system, port: 9411}\n\
                    - name: otel\n  opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}\n";
        let mesh: MeshConfig = serde_yaml::from_str(yaml).unwrap();
        let settings = TracingSettings::from_mesh(&mesh);
        assert_eq!(settings.sampling_percent, 25.0);
        let collector = settings.collector.unwrap();
        assert_eq!(collector.host, "otel.observability.svc.cluster.local");
        assert_eq!(collector.port, 4317);
    }
}
