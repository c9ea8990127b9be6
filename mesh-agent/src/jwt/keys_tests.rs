//! The key cache on paused time: one fetch for many askers, refresh, fail closed, retry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::*;

/// Answers from a script of outcomes (the last one repeats), counting fetches.
struct Scripted {
    answers: Mutex<Vec<Result<String, String>>>,
    count: AtomicUsize,
}

impl Scripted {
    fn new(answers: Vec<Result<String, String>>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers),
            count: AtomicUsize::new(0),
        })
    }

    fn fetches(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl JwksFetch for Arc<Scripted> {
    fn fetch(&self, _: &str) -> BoxFuture<'static, Result<String, String>> {
        self.count.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0].clone()
        };
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            answer
        })
    }
}

fn jwks(kid: &str) -> Result<String, String> {
    Ok(format!(
        r#"{{"keys": [{{"kty": "oct", "kid": "{kid}", "k": "c2VjcmV0"}}]}}"#
    ))
}

fn kid(keys: &JwkSet) -> String {
    keys.keys[0].common.key_id.clone().unwrap()
}

const URI: &str = "http://keys.example/jwks.json";
const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn first_use_waits_for_one_fetch_then_keys_are_cached_and_refreshed() {
    let fetch = Scripted::new(vec![jwks("one"), jwks("two")]);
    let cache = JwksCache::new(Arc::new(fetch.clone()));
    let (a, b) = tokio::join!(cache.keys(URI, WAIT), cache.keys(URI, WAIT));
    assert_eq!(
        (kid(&a.unwrap()), kid(&b.unwrap())),
        ("one".into(), "one".into())
    );
    assert_eq!(fetch.fetches(), 1);
    tokio::time::advance(JWKS_REFRESH).await;
    let stale = cache.keys(URI, WAIT).await.unwrap();
    assert_eq!(
        kid(&stale),
        "one",
        "the old keys serve while the refresh runs"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(kid(&cache.keys(URI, WAIT).await.unwrap()), "two");
    assert_eq!(fetch.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_fails_closed_and_is_retried_after_a_pause() {
    let fetch = Scripted::new(vec![
        Err("connection refused".into()),
        Ok("not json".into()),
        jwks("k"),
    ]);
    let cache = JwksCache::new(Arc::new(fetch.clone()));
    assert_eq!(
        cache.keys(URI, WAIT).await.err(),
        Some(JwtFailure::JwksFetchFailed)
    );
    assert_eq!(
        cache.keys(URI, WAIT).await.err(),
        Some(JwtFailure::JwksFetchFailed)
    );
    assert_eq!(fetch.fetches(), 1, "no new fetch within {JWKS_RETRY:?}");
    tokio::time::advance(JWKS_RETRY).await;
    assert_eq!(
        cache.keys(URI, WAIT).await.err(),
        Some(JwtFailure::JwksFetchFailed),
        "a body that is no key set"
    );
    tokio::time::advance(JWKS_RETRY).await;
    assert_eq!(kid(&cache.keys(URI, WAIT).await.unwrap()), "k");
    assert_eq!(fetch.fetches(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_keys_it_had() {
    let fetch = Scripted::new(vec![jwks("k"), Err("503".into())]);
    let cache = JwksCache::new(Arc::new(fetch.clone()));
    cache.keys(URI, WAIT).await.unwrap();
    tokio::time::advance(JWKS_REFRESH).await;
    cache.keys(URI, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(kid(&cache.keys(URI, WAIT).await.unwrap()), "k");
    assert_eq!(fetch.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_slower_than_the_rules_timeout_refuses_the_request() {
    let fetch = Scripted::new(vec![jwks("k")]);
    let cache = JwksCache::new(Arc::new(fetch.clone()));
    let short = cache.keys(URI, Duration::from_millis(1)).await;
    assert_eq!(short.err(), Some(JwtFailure::JwksFetchFailed));
}

/// Answers by URI.
struct ByUri(Vec<(&'static str, String)>);

impl JwksFetch for ByUri {
    fn fetch(&self, uri: &str) -> BoxFuture<'static, Result<String, String>> {
        let found = self
            .0
            .iter()
            .find(|(u, _)| *u == uri)
            .map(|(_, body)| body.clone());
        Box::pin(async move { found.ok_or_else(|| "404".to_string()) })
    }
}

#[tokio::test(start_paused = true)]
async fn an_issuer_without_keys_named_publishes_them_in_its_openid_configuration() {
    let config = "https://issuer.example/.well-known/openid-configuration";
    let fetch = ByUri(vec![
        (
            config,
            r#"{"issuer": "https://issuer.example", "jwks_uri": "https://issuer.example/keys"}"#
                .into(),
        ),
        ("https://issuer.example/keys", jwks("found").unwrap()),
    ]);
    let cache = JwksCache::new(Arc::new(fetch));
    assert_eq!(
        kid(&cache.discovered_keys(config, WAIT).await.unwrap()),
        "found"
    );
    let missing = cache.discovered_keys(
        "https://other.example/.well-known/openid-configuration",
        WAIT,
    );
    assert_eq!(missing.await.err(), Some(JwtFailure::JwksFetchFailed));
}
