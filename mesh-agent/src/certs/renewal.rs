//! When to ask again: at half the certificate's lifetime (as Istio's agents do), and after a
//! failure with an exponential backoff; the loop that keeps one identity's certificate fresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::issuer::CertificateIssuer;
use super::metrics::CertificateMetrics;
use crate::identity::{CertificateError, Identity, WorkloadCertificate};

/// Waits after failed requests: `first`, doubling up to `max`, back to `first` after a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failure in a row (1 for the first).
    pub fn wait(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

/// How long from `now` until the certificate valid `not_before..not_after` is renewed: half its
/// lifetime after `not_before`; zero when that moment has passed.
pub fn renewal_delay(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> Duration {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    let renew_at = not_before + lifetime / 2;
    renew_at.duration_since(now).unwrap_or_default()
}

/// What the requests of one identity have produced so far, as askers see it.
#[derive(Clone, Debug, Default)]
pub struct Issued {
    /// The certificate in force (the old one stays until a renewal replaces it).
    pub current: Option<Arc<WorkloadCertificate>>,
    /// The last request's failure; cleared by the next success.
    pub failure: Option<CertificateError>,
}

/// Counts `mesh_certificates` while this identity holds one; uncounted when the loop ends.
struct Held {
    gauge: prometheus_client::metrics::gauge::Gauge,
    counted: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.counted {
            self.gauge.dec();
        }
    }
}

/// Fetches `identity`'s certificate, then renews it at half life, retrying failures with
/// `backoff`; publishes every outcome on `issued`. Runs until its task is aborted.
pub async fn keep_renewed(
    identity: Identity,
    issuer: Arc<dyn CertificateIssuer>,
    issued: watch::Sender<Issued>,
    metrics: CertificateMetrics,
    backoff: Backoff,
) {
    let mut held = Held {
        gauge: metrics.held.clone(),
        counted: false,
    };
    let mut failures = 0u32;
    loop {
        match issuer.issue(&identity).await {
            Ok(certificate) => {
                let now = SystemTime::now();
                // Never sooner than the backoff's first wait: a CA handing out certificates
                // already past half life must not be asked in a tight loop.
                let delay = renewal_delay(certificate.not_before, certificate.not_after, now)
                    .max(backoff.first);
                tracing::info!(%identity, serial = %certificate.serial,
                    expires_in = ?certificate.not_after.duration_since(now).unwrap_or_default(),
                    renew_in = ?delay, "workload certificate issued");
                if held.counted {
                    metrics.renewals.inc();
                } else {
                    metrics.held.inc();
                    held.counted = true;
                }
                issued.send_replace(Issued {
                    current: Some(Arc::new(certificate)),
                    failure: None,
                });
                failures = 0;
                tokio::time::sleep(delay).await;
            }
            Err(error) => {
                metrics.failed(&error);
                failures = failures.saturating_add(1);
                let wait = backoff.wait(failures);
                let keeping = issued.borrow().current.is_some();
                tracing::warn!(%identity, %error, retry_in = ?wait, keeping_the_current_one = keeping,
                    "workload certificate request failed");
                issued.send_modify(|issued| issued.failure = Some(error));
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_at_half_life_counted_from_not_before() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        let half = Duration::from_secs(43_200);
        assert_eq!(renewal_delay(start, start + day, start), half);
        let later = start + Duration::from_secs(60);
        assert_eq!(
            renewal_delay(start, start + day, later),
            half - Duration::from_secs(60)
        );
        assert_eq!(
            renewal_delay(start, start + day, start + day),
            Duration::ZERO
        );
        let inverted = renewal_delay(start + day, start, start + day);
        assert_eq!(inverted, Duration::ZERO, "no lifetime: at once");
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let backoff = Backoff::default();
        let waits: Vec<u64> = (1..=8).map(|n| backoff.wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.wait(u32::MAX), Duration::from_secs(60));
    }
}
