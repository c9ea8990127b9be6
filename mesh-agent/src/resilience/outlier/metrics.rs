//! Outlier-detection metrics: ejections by destination and reason, and the endpoints ejected now.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::EjectionReason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EjectionLabels {
    destination: String,
    reason: ReasonLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    destination: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum ReasonLabel {
    consecutive_5xx,
    consecutive_gateway,
    consecutive_local_origin,
}

/// The counters of every destination. `Default` gives unregistered metrics (for tests).
#[derive(Clone, Debug, Default)]
pub struct OutlierMetrics {
    ejections: Family<EjectionLabels, Counter>,
    ejected: Family<DestinationLabels, Gauge>,
}

impl OutlierMetrics {
    /// Registers `mesh_outlier_ejections_total{destination,reason}` and
    /// `mesh_outlier_ejected_endpoints{destination}` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_outlier_ejections",
            "Endpoints ejected by outlier detection",
            metrics.ejections.clone(),
        );
        registry.register(
            "mesh_outlier_ejected_endpoints",
            "Endpoints ejected now, summed over the source pods (each has its own detector)",
            metrics.ejected.clone(),
        );
        metrics
    }

    pub(super) fn ejected(&self, destination: &str, reason: EjectionReason) {
        let reason = match reason {
            EjectionReason::Consecutive5xx => ReasonLabel::consecutive_5xx,
            EjectionReason::ConsecutiveGateway => ReasonLabel::consecutive_gateway,
            EjectionReason::ConsecutiveLocalOrigin => ReasonLabel::consecutive_local_origin,
        };
        self.ejections
            .get_or_create(&EjectionLabels {
                destination: destination.into(),
                reason,
            })
            .inc();
    }

    /// Adds `change` to the endpoints of `destination` ejected now (summed over the
    /// detectors of every source pod).
    pub(super) fn add_ejected(&self, destination: &str, change: i64) {
        if change == 0 {
            return;
        }
        let labels = DestinationLabels {
            destination: destination.into(),
        };
        self.ejected.get_or_create(&labels).inc_by(change);
    }

    /// Ejections of `destination` so far, all reasons.
    pub fn ejections(&self, destination: &str) -> u64 {
        [
            ReasonLabel::consecutive_5xx,
            ReasonLabel::consecutive_gateway,
            ReasonLabel::consecutive_local_origin,
        ]
        .into_iter()
        .map(|reason| {
            self.ejections
                .get_or_create(&EjectionLabels {
                    destination: destination.into(),
                    reason,
                })
                .get()
        })
        .sum()
    }

    /// Endpoints of `destination` ejected at the last update.
    pub fn ejected_now(&self, destination: &str) -> i64 {
        self.ejected
            .get_or_create(&DestinationLabels {
                destination: destination.into(),
            })
            .get()
    }
}
