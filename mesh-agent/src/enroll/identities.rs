//! The enrolled pods' identities handed to the certificate manager after every change (an add,
//! a remove, a reconcile pass — and so also the pods a predecessor handed over), so every
//! ServiceAccount with a pod enrolled here has its certificate and no other does.

use std::sync::Arc;

use super::service::Enrollment;
use crate::certs::NodeCertificates;
use crate::snapshot::Snapshot;

impl Enrollment {
    /// Gives the enrolled pods' identities to `certificates`.
    pub fn with_certificates(mut self, certificates: Option<Arc<NodeCertificates>>) -> Self {
        self.certificates = certificates;
        self
    }

    /// Tells the certificate manager which identities have pods enrolled now.
    pub(super) async fn follow_identities(&self) {
        let Some(certificates) = &self.certificates else {
            return;
        };
        let snapshot = self.config.snapshot();
        let pods: Vec<_> = self
            .pods
            .list()
            .await
            .into_iter()
            .map(|pod| {
                let account = service_account(&snapshot, &pod.namespace, &pod.name);
                let identity = certificates.identity_of(&pod.namespace, &account);
                (format!("{}/{}", pod.namespace, pod.name), identity)
            })
            .collect();
        certificates.keep(&pods);
    }
}

/// The pod's `serviceAccountName` (else the deprecated `serviceAccount`, else `default`).
fn service_account(snapshot: &Snapshot, namespace: &str, name: &str) -> String {
    let spec = snapshot
        .pod(namespace, name)
        .and_then(|pod| pod.spec.as_ref());
    spec.and_then(|spec| {
        spec.service_account_name
            .clone()
            .or_else(|| spec.service_account.clone())
    })
    .filter(|account| !account.is_empty())
    .unwrap_or_else(|| "default".to_owned())
}
