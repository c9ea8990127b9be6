//! The manager on paused time against a scripted issuer: shared requests, renewal at half life,
//! backoff keeping the old certificate, release with the last pod.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

/// Answers after `delay`, from `script` (then successes), certificates of `lifetime`.
struct Scripted {
    calls: AtomicU32,
    delay: Duration,
    lifetime: Duration,
    script: Mutex<VecDeque<bool>>,
}

impl CertificateIssuer for Arc<Scripted> {
    fn issue(
        &self,
        identity: &Identity,
    ) -> futures::future::BoxFuture<'static, Result<WorkloadCertificate, CertificateError>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let succeeds = self.script.lock().unwrap().pop_front().unwrap_or(true);
        let (delay, lifetime, identity) = (self.delay, self.lifetime, identity.clone());
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            if !succeeds {
                return Err(CertificateError::Unavailable {
                    identity: identity.to_string(),
                    reason: format!("call {call} scripted to fail"),
                });
            }
            let now = SystemTime::now();
            Ok(WorkloadCertificate {
                identity,
                chain: Vec::new(),
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(vec![1, 2, 3])),
                roots: Vec::new(),
                serial: format!("{call:02x}"),
                not_before: now,
                not_after: now + lifetime,
            })
        })
    }
}

fn store(script: &[bool], lifetime: Duration) -> (Arc<NodeCertificates>, Arc<Scripted>) {
    let issuer = Arc::new(Scripted {
        calls: AtomicU32::new(0),
        delay: Duration::from_secs(1),
        lifetime,
        script: Mutex::new(script.iter().copied().collect()),
    });
    let store = NodeCertificates::new(
        "cluster.local".into(),
        Arc::new(issuer.clone()),
        CertificateMetrics::default(),
        Backoff::default(),
    );
    (Arc::new(store), issuer)
}

async fn serial(store: &NodeCertificates, identity: &Identity) -> Result<String, CertificateError> {
    store.certificate(identity).await.map(|c| c.serial.clone())
}

#[tokio::test(start_paused = true)]
async fn concurrent_askers_share_one_request() {
    let (store, issuer) = store(&[], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    let asks = (0..10).map(|_| store.certificate(&cart));
    let answers = futures::future::join_all(asks).await;
    let first = answers[0].as_ref().unwrap();
    assert!(answers
        .iter()
        .all(|a| Arc::ptr_eq(a.as_ref().unwrap(), first)));
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        first.identity.to_string(),
        "spiffe://cluster.local/ns/shop/sa/cart"
    );
    assert_eq!(store.metrics.held(), 1);
}

#[tokio::test(start_paused = true)]
async fn renews_at_half_life_and_not_before() {
    let (store, issuer) = store(&[], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    store.enrolled("shop/cart-1", cart.clone());
    assert_eq!(serial(&store, &cart).await.unwrap(), "01");
    tokio::time::sleep(12 * HOUR - Duration::from_secs(5)).await;
    assert_eq!(
        issuer.calls.load(Ordering::SeqCst),
        1,
        "not before half life"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        issuer.calls.load(Ordering::SeqCst),
        2,
        "renewed at half life"
    );
    assert_eq!(serial(&store, &cart).await.unwrap(), "02");
    assert_eq!(store.metrics.renewals(), 1);
    assert_eq!(store.metrics.held(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_renewal_keeps_the_old_certificate_and_backs_off() {
    let (store, issuer) = store(&[true, false, false, false], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    store.enrolled("shop/cart-1", cart.clone());
    assert_eq!(serial(&store, &cart).await.unwrap(), "01");
    // Half life (+1 s for the request): the renewal fails; the old certificate still serves.
    tokio::time::sleep(12 * HOUR + Duration::from_millis(1500)).await;
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 2);
    assert_eq!(serial(&store, &cart).await.unwrap(), "01");
    // Retries after 1 s, then 2 s, then 4 s (each request takes 1 s).
    let calls_at = |secs: u64| {
        let issuer = issuer.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            issuer.calls.load(Ordering::SeqCst)
        }
    };
    assert_eq!(calls_at(1).await, 3, "first retry after 1 s");
    assert_eq!(calls_at(2).await, 3, "second waits 2 s");
    assert_eq!(calls_at(1).await, 4);
    assert_eq!(calls_at(5).await, 5, "then 4 s");
    assert_eq!(store.metrics.failures("unavailable"), 3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        serial(&store, &cart).await.unwrap(),
        "05",
        "the success replaces it"
    );
    assert_eq!(store.metrics.renewals(), 1);
}

#[tokio::test(start_paused = true)]
async fn without_any_certificate_askers_get_the_failure() {
    let (store, _) = store(&[false], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    let err = store.certificate(&cart).await.unwrap_err();
    assert!(err.to_string().contains("call 1 scripted to fail"), "{err}");
    assert_eq!(store.metrics.held(), 0);
    assert!(store.summaries()[0].failure.is_some());
}

#[tokio::test(start_paused = true)]
async fn an_expired_certificate_is_not_handed_out() {
    let (store, issuer) = store(&[true, false], Duration::ZERO);
    let cart = store.identity_of("shop", "cart");
    store.enrolled("shop/cart-1", cart.clone());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        issuer.calls.load(Ordering::SeqCst),
        2,
        "renewed after the minimum wait"
    );
    let err = store.certificate(&cart).await.unwrap_err();
    assert!(err.to_string().contains("call 2"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_certificate_goes_with_the_last_pod_of_its_identity() {
    let (store, issuer) = store(&[], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    store.enrolled("shop/cart-1", cart.clone());
    store.enrolled("shop/cart-2", cart.clone());
    store.enrolled("shop/cart-2", cart.clone());
    serial(&store, &cart).await.unwrap();
    assert_eq!(store.summaries()[0].pods, ["shop/cart-1", "shop/cart-2"]);
    store.released("shop/cart-1");
    assert_eq!(store.summaries().len(), 1, "cart-2 still runs");
    store.released("shop/cart-2");
    tokio::task::yield_now().await;
    assert!(store.summaries().is_empty());
    assert_eq!(store.metrics.held(), 0);
    tokio::time::sleep(24 * HOUR).await;
    assert_eq!(
        issuer.calls.load(Ordering::SeqCst),
        1,
        "no renewal after release"
    );
}

#[tokio::test(start_paused = true)]
async fn keep_follows_the_enrolled_pods() {
    let (store, _) = store(&[], 24 * HOUR);
    let cart = store.identity_of("shop", "cart");
    let payments = store.identity_of("shop", "payments");
    let pods = |list: &[(&str, &Identity)]| -> Vec<(String, Identity)> {
        list.iter()
            .map(|(k, id)| ((*k).to_owned(), (*id).clone()))
            .collect()
    };
    store.keep(&pods(&[("shop/cart-1", &cart), ("shop/pay-1", &payments)]));
    let held: Vec<String> = store.summaries().into_iter().map(|s| s.identity).collect();
    assert_eq!(held, [cart.to_string(), payments.to_string()]);
    store.keep(&pods(&[("shop/cart-1", &cart), ("shop/cart-2", &cart)]));
    let summaries = store.summaries();
    assert_eq!(summaries.len(), 1, "payments had no pod left");
    assert_eq!(summaries[0].pods, ["shop/cart-1", "shop/cart-2"]);
    store.keep(&[]);
    assert!(store.summaries().is_empty());
}
