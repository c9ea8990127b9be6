//! A workload's certificate as the data path uses it, and the source that hands them out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Identity;

/// One identity's key and signed chain, with the roots its peers must chain to. The key is
/// only ever in memory.
#[derive(Debug)]
pub struct WorkloadCertificate {
    pub identity: Identity,
    /// Leaf first, then the intermediates up to (not including) the root.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The trust anchors of the mesh (the CA's root certificates).
    pub roots: Vec<CertificateDer<'static>>,
    /// The leaf's serial number, hex.
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// Why no certificate could be had for an identity.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CertificateError {
    /// The CA could not be reached or did not answer in time: worth retrying.
    #[error("the CA is unavailable for {identity}: {reason}")]
    Unavailable { identity: String, reason: String },
    /// The CA refused (not this node's workload, bad token...): retrying will not help soon.
    #[error("the CA refused a certificate for {identity}: {reason}")]
    Refused { identity: String, reason: String },
}

/// A boxed future of a certificate, so the source can be a trait object.
pub type CertificateFuture =
    Pin<Box<dyn Future<Output = Result<Arc<WorkloadCertificate>, CertificateError>> + Send>>;

/// Hands out the certificate in force for an identity (fetching it the first time it is asked
/// for, renewing it in the background); implemented by the node agent's certificate manager.
pub trait WorkloadCertificates: Send + Sync + 'static {
    /// The current certificate of `identity`.
    fn certificate(&self, identity: &Identity) -> CertificateFuture;
}
