//! The certificate manager's metrics: certificates held, renewals, failed requests by reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::identity::CertificateError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    reason: &'static str,
}

/// `mesh_certificates`, `mesh_certificate_renewals_total`, `mesh_certificate_failures_total`.
#[derive(Clone, Debug, Default)]
pub struct CertificateMetrics {
    pub(super) held: Gauge,
    pub(super) renewals: Counter,
    failures: Family<FailureLabels, Counter>,
}

impl CertificateMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_certificates",
            "Workload identities of this node's pods holding a certificate",
            metrics.held.clone(),
        );
        registry.register(
            "mesh_certificate_renewals",
            "Workload certificates renewed before they expired",
            metrics.renewals.clone(),
        );
        registry.register(
            "mesh_certificate_failures",
            "Certificate requests that failed, by reason (unavailable, refused)",
            metrics.failures.clone(),
        );
        metrics
    }

    /// Counts a failed request.
    pub(super) fn failed(&self, error: &CertificateError) {
        let reason = match error {
            CertificateError::Unavailable { .. } => "unavailable",
            CertificateError::Refused { .. } => "refused",
        };
        self.failures.get_or_create(&FailureLabels { reason }).inc();
    }

    /// Failed requests of `reason` so far.
    pub fn failures(&self, reason: &'static str) -> u64 {
        self.failures.get_or_create(&FailureLabels { reason }).get()
    }

    /// Renewals so far.
    pub fn renewals(&self) -> u64 {
        self.renewals.get()
    }

    /// Identities holding a certificate now.
    pub fn held(&self) -> i64 {
        self.held.get()
    }
}
