//! Remote key sets (`jwksUri`): fetched on first use through a [`JwksFetch`] (the node's HTTP
//! client), cached, fetched again once older than [`JWKS_REFRESH`] (the old keys serve
//! meanwhile, and stay when the new fetch fails). With no keys yet a request waits for the
//! fetch, up to its rule's `timeout`; a failed fetch fails closed — that issuer's tokens are
//! refused — and is tried again on use, at most every [`JWKS_RETRY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::watch;
use tokio::time::Instant;

use super::JwtFailure;

/// How long fetched keys are used before they are fetched again (istiod's JWKS refresh).
pub const JWKS_REFRESH: Duration = Duration::from_secs(20 * 60);
/// The least time between fetches of a key set whose last fetch failed.
pub const JWKS_RETRY: Duration = Duration::from_secs(1);

/// Fetches the document at a `jwksUri`: its body, or why not.
pub trait JwksFetch: Send + Sync + 'static {
    fn fetch(&self, uri: &str) -> BoxFuture<'static, Result<String, String>>;
}

/// The key sets of every `jwksUri` in use. Cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct JwksCache {
    fetch: Arc<dyn JwksFetch>,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Entry {
    keys: Option<Arc<JwkSet>>,
    /// When the keys were fetched.
    fetched: Option<Instant>,
    /// When the last fetch failed, and why.
    failed: Option<(Instant, String)>,
    /// Flips when the fetch in flight ends.
    in_flight: Option<watch::Receiver<bool>>,
}

impl JwksCache {
    pub fn new(fetch: Arc<dyn JwksFetch>) -> Self {
        Self {
            fetch,
            entries: Arc::default(),
        }
    }

    /// The keys at `uri`, waiting up to `wait` for a first fetch.
    pub async fn keys(&self, uri: &str, wait: Duration) -> Result<Arc<JwkSet>, JwtFailure> {
        self.lookup(uri, Lookup::KeySet, wait).await
    }

    /// The keys named by the OpenID configuration at `config` (its `jwks_uri`), as [`Self::keys`].
    pub async fn discovered_keys(
        &self,
        config: &str,
        wait: Duration,
    ) -> Result<Arc<JwkSet>, JwtFailure> {
        self.lookup(config, Lookup::OpenIdConfiguration, wait).await
    }

    async fn lookup(
        &self,
        uri: &str,
        lookup: Lookup,
        wait: Duration,
    ) -> Result<Arc<JwkSet>, JwtFailure> {
        let pending = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.entry(uri.to_string()).or_default();
            let now = Instant::now();
            let stale = entry.fetched.is_none_or(|at| now >= at + JWKS_REFRESH);
            let may_retry = entry
                .failed
                .as_ref()
                .is_none_or(|(at, _)| now >= *at + JWKS_RETRY);
            if stale && may_retry && entry.in_flight.is_none() {
                entry.in_flight = Some(self.start(uri, lookup));
            }
            if let Some(keys) = &entry.keys {
                return Ok(keys.clone());
            }
            entry.in_flight.clone()
        };
        if let Some(mut done) = pending {
            let _ = tokio::time::timeout(wait, done.wait_for(|done| *done)).await;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(uri)
            .and_then(|e| e.keys.clone())
            .ok_or(JwtFailure::JwksFetchFailed)
    }

    /// Starts fetching `uri`; the receiver sees `true` once the entry holds the outcome.
    fn start(&self, uri: &str, lookup: Lookup) -> watch::Receiver<bool> {
        let (done, receiver) = watch::channel(false);
        let (fetch, entries, uri) = (self.fetch.clone(), self.entries.clone(), uri.to_string());
        tokio::spawn(async move {
            let outcome = fetch_keys(fetch.as_ref(), &uri, lookup).await;
            let mut entries = entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.entry(uri.clone()).or_default();
            entry.in_flight = None;
            match outcome {
                Ok(keys) => {
                    tracing::info!(jwks_uri = %uri, keys = keys.keys.len(), "JWKS fetched");
                    entry.keys = Some(Arc::new(keys));
                    entry.fetched = Some(Instant::now());
                    entry.failed = None;
                }
                Err(error) => {
                    let kept = entry.keys.is_some();
                    tracing::warn!(jwks_uri = %uri, %error, kept_previous_keys = kept, "JWKS fetch failed");
                    entry.failed = Some((Instant::now(), error));
                }
            }
            let _ = done.send(true);
        });
        receiver
    }
}

/// What a cached URI holds.
#[derive(Clone, Copy, Debug)]
enum Lookup {
    KeySet,
    /// An OpenID configuration naming the key set (`jwks_uri`).
    OpenIdConfiguration,
}

async fn fetch_keys(fetch: &dyn JwksFetch, uri: &str, lookup: Lookup) -> Result<JwkSet, String> {
    let keys_uri = match lookup {
        Lookup::KeySet => uri.to_string(),
        Lookup::OpenIdConfiguration => {
            let config: serde_json::Value = serde_json::from_str(&fetch.fetch(uri).await?)
                .map_err(|e| format!("{uri}: not an OpenID configuration: {e}"))?;
            let named = config.get("jwks_uri").and_then(serde_json::Value::as_str);
            named
                .ok_or_else(|| format!("{uri}: no jwks_uri"))?
                .to_string()
        }
    };
    let body = fetch.fetch(&keys_uri).await?;
    serde_json::from_str::<JwkSet>(&body)
        .map_err(|e| format!("{keys_uri}: not a JSON Web Key Set: {e}"))
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;

/// Key sets fetched with the agent's [`WebClient`](crate::net::WebClient).
impl JwksFetch for crate::net::WebClient {
    fn fetch(&self, uri: &str) -> BoxFuture<'static, Result<String, String>> {
        let (client, uri) = (self.clone(), uri.to_string());
        Box::pin(async move { client.get(&uri).await })
    }
}
