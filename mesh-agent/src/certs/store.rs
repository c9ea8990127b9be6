//! [`NodeCertificates`]: the certificate of each ServiceAccount with a pod enrolled on this node,
//! fetched when its first pod is enrolled (or when first asked for), kept renewed by one task per
//! identity whose single request every asker shares, and dropped when its last pod leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::watch;

use super::issuer::CertificateIssuer;
use super::metrics::CertificateMetrics;
use super::renewal::{keep_renewed, Backoff, Issued};
use crate::identity::{
    CertificateError, CertificateFuture, Identity, WorkloadCertificate, WorkloadCertificates,
};

/// One identity's renewal task and what it has issued.
struct Held {
    issued: watch::Receiver<Issued>,
    renewing: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

#[derive(Default)]
struct Books {
    /// Enrolled pods (`namespace/name`) and their identity.
    pods: HashMap<String, Identity>,
    held: HashMap<Identity, Held>,
}

/// The certificates of this node's workloads.
pub struct NodeCertificates {
    trust_domain: String,
    issuer: Arc<dyn CertificateIssuer>,
    metrics: CertificateMetrics,
    backoff: Backoff,
    books: Mutex<Books>,
}

/// What `/certs` shows of one certificate: never its key.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateSummary {
    pub identity: String,
    /// Enrolled pods of this identity (`namespace/name`).
    pub pods: Vec<String>,
    pub serial: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Leaf first, then intermediates, PEM.
    pub chain: Vec<String>,
    /// The roots the chain verifies to, PEM.
    pub roots: Vec<String>,
    /// The last request's failure, if it failed.
    pub failure: Option<String>,
}

impl NodeCertificates {
    /// Certificates of `trust_domain` signed through `issuer`.
    pub fn new(
        trust_domain: String,
        issuer: Arc<dyn CertificateIssuer>,
        metrics: CertificateMetrics,
        backoff: Backoff,
    ) -> Self {
        Self {
            trust_domain,
            issuer,
            metrics,
            backoff,
            books: Mutex::new(Books::default()),
        }
    }

    /// The identity of a pod of `namespace` running as `service_account`.
    pub fn identity_of(&self, namespace: &str, service_account: &str) -> Identity {
        Identity {
            trust_domain: self.trust_domain.clone(),
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
        }
    }

    /// Pod `key` (`namespace/name`) of `identity` is enrolled: the first pod of an identity starts
    /// its certificate's fetch. Enrolling a pod again under another identity moves it.
    pub fn enrolled(&self, key: &str, identity: Identity) {
        let mut books = self.lock();
        if let Some(before) = books.pods.insert(key.to_owned(), identity.clone()) {
            if before != identity {
                Self::drop_unused(&mut books, &before);
            }
        }
        self.held_entry(&mut books, &identity);
    }

    /// Pod `key` left: its identity's certificate goes with its last pod.
    pub fn released(&self, key: &str) {
        let mut books = self.lock();
        if let Some(identity) = books.pods.remove(key) {
            Self::drop_unused(&mut books, &identity);
        }
    }

    /// The enrolled pods are exactly `pods` (`namespace/name`, identity): identities gained
    /// start fetching, identities without a pod left are dropped.
    pub fn keep(&self, pods: &[(String, Identity)]) {
        let mut books = self.lock();
        let gone: Vec<String> = books
            .pods
            .keys()
            .filter(|key| !pods.iter().any(|(kept, _)| kept == *key))
            .cloned()
            .collect();
        for key in gone {
            if let Some(identity) = books.pods.remove(&key) {
                Self::drop_unused(&mut books, &identity);
            }
        }
        drop(books);
        for (key, identity) in pods {
            self.enrolled(key, identity.clone());
        }
    }

    /// Every identity held, sorted, with its certificate's public parts.
    pub fn summaries(&self) -> Vec<CertificateSummary> {
        let books = self.lock();
        let mut list: Vec<CertificateSummary> = books
            .held
            .iter()
            .map(|(identity, held)| summary(identity, &books.pods, &held.issued.borrow()))
            .collect();
        list.sort_by(|a, b| a.identity.cmp(&b.identity));
        list
    }

    fn drop_unused(books: &mut Books, identity: &Identity) {
        let in_use = books.pods.values().any(|held| held == identity);
        if !in_use && books.held.remove(identity).is_some() {
            tracing::info!(%identity, "workload certificate dropped: its last pod left the node");
        }
    }

    /// The receiver of `identity`'s outcomes, starting its renewal task the first time.
    fn held_entry(&self, books: &mut Books, identity: &Identity) -> watch::Receiver<Issued> {
        let held = books.held.entry(identity.clone()).or_insert_with(|| {
            let (sender, issued) = watch::channel(Issued::default());
            let renewing = tokio::spawn(keep_renewed(
                identity.clone(),
                self.issuer.clone(),
                sender,
                self.metrics.clone(),
                self.backoff,
            ));
            Held { issued, renewing }
        });
        held.issued.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WorkloadCertificates for NodeCertificates {
    /// The certificate in force; the first ask (or every ask while the first fetch runs) waits
    /// for the one shared request. Without a usable certificate, the last failure is the answer.
    fn certificate(&self, identity: &Identity) -> CertificateFuture {
        let mut issued = self.held_entry(&mut self.lock(), identity);
        let identity = identity.clone();
        Box::pin(async move {
            loop {
                if let Some(answer) = answer(&issued.borrow_and_update()) {
                    return answer;
                }
                if issued.changed().await.is_err() {
                    return Err(CertificateError::Unavailable {
                        identity: identity.to_string(),
                        reason: "its last pod left the node".into(),
                    });
                }
            }
        })
    }
}

/// A certificate still valid, else the last failure, else nothing yet (wait).
fn answer(issued: &Issued) -> Option<Result<Arc<WorkloadCertificate>, CertificateError>> {
    let usable = issued
        .current
        .as_ref()
        .filter(|cert| cert.not_after > SystemTime::now());
    match (usable, &issued.failure) {
        (Some(cert), _) => Some(Ok(cert.clone())),
        (None, Some(failure)) => Some(Err(failure.clone())),
        (None, None) => None,
    }
}

fn summary(
    identity: &Identity,
    pods: &HashMap<String, Identity>,
    issued: &Issued,
) -> CertificateSummary {
    let mut names: Vec<String> = pods
        .iter()
        .filter(|(_, of)| *of == identity)
        .map(|(key, _)| key.clone())
        .collect();
    names.sort();
    let cert = issued.current.as_deref();
    CertificateSummary {
        identity: identity.to_string(),
        pods: names,
        serial: cert.map(|c| c.serial.clone()),
        not_before: cert.map(|c| rfc3339(c.not_before)),
        not_after: cert.map(|c| rfc3339(c.not_after)),
        chain: cert
            .map(|c| c.chain.iter().map(|d| pem(d)).collect())
            .unwrap_or_default(),
        roots: cert
            .map(|c| c.roots.iter().map(|d| pem(d)).collect())
            .unwrap_or_default(),
        failure: issued.failure.as_ref().map(ToString::to_string),
    }
}

fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests;
