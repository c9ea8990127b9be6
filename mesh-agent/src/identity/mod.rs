//! Who a workload is (its SPIFFE identity) and the certificate that proves it: the vocabulary
//! the tunnel, the policies and the telemetry share. Where certificates come from (the CA
//! client, renewal) lives higher up and is handed down as a [`WorkloadCertificates`].

mod certificate;
mod spiffe;

pub use certificate::{
    CertificateError, CertificateFuture, WorkloadCertificate, WorkloadCertificates,
};
pub use spiffe::Identity;
