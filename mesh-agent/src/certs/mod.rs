//! The workload certificates of this node's pods: one per ServiceAccount with a pod enrolled
//! here, its key made and kept in memory, signed by the mesh CA (or istiod) and renewed at half
//! life; handed to the tunnel and the policies as [`crate::identity::WorkloadCertificates`].

pub mod issuer;
pub mod metrics;
pub mod renewal;
pub mod settings;
pub mod store;

pub use issuer::{CaIssuer, CertificateIssuer};
pub use metrics::CertificateMetrics;
pub use renewal::Backoff;
pub use settings::{CaClientArgs, CaClientSettings};
pub use store::{CertificateSummary, NodeCertificates};
