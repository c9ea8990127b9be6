//! The Kubernetes source's own metric: `mesh_config_kinds_missing{kind}`, 1 while the API server
//! does not serve a kind the mesh reads (its CRD is not installed), 0 once it does.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// Which watched kinds are missing; unregistered (and unread) unless [`KindMetrics::register`]ed.
#[derive(Clone, Debug, Default)]
pub struct KindMetrics {
    missing: Family<KindLabels, Gauge>,
}

impl KindMetrics {
    /// Registers the gauge in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_config_kinds_missing",
            "Kinds the mesh reads that the API server does not serve (1), by kind",
            metrics.missing.clone(),
        );
        metrics
    }

    /// Records whether `kind` is served.
    pub fn set_missing(&self, kind: &str, missing: bool) {
        let labels = KindLabels {
            kind: kind.to_owned(),
        };
        self.missing.get_or_create(&labels).set(i64::from(missing));
    }
}
