//! The handshake rate: TLS handshakes are the most expensive work of the node proxy, so each
//! key (the pod a tunnel connection arrives for, or a gateway client's address) gets a token
//! bucket of `per_second` handshakes a second (a pod's `mesh.io/max-handshakes-per-second`
//! annotation overrides the flag for it), a second's worth in a burst. A connection past it is
//! reset before the handshake and counted in `mesh_handshakes_refused_total{listener}`; the
//! warning is throttled. At most [`MAX_KEYS`] buckets are kept: when full, idle ones (full
//! again) are forgotten, and a new key is refused while none is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

use crate::throttle::Throttle;

/// Handshakes per second per key, by default at most.
pub const DEFAULT_MAX_HANDSHAKES_PER_SECOND: u32 = 1_000;
/// Keys with a bucket, at most.
pub const MAX_KEYS: usize = 10_000;

/// Which listener refused a handshake.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum HandshakeListener {
    /// A pod's tunnel port (15008).
    tunnel,
    /// An HTTPS port of the gateway.
    gateway,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: HandshakeListener,
}

/// Handshake buckets by key, and the refusals.
#[derive(Debug)]
pub struct HandshakeRate {
    per_second: AtomicU32,
    buckets: Mutex<HashMap<String, Bucket>>,
    refused: Family<ListenerLabels, Counter>,
    warnings: Throttle,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    at: Instant,
}

impl Bucket {
    /// Tokens added since `at` (at most `rate`, one second's worth).
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.at = now;
    }
}

impl Default for HandshakeRate {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_HANDSHAKES_PER_SECOND)
    }
}

impl HandshakeRate {
    /// `per_second` handshakes a second per key; counters unregistered.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: AtomicU32::new(per_second.max(1)),
            buckets: Mutex::default(),
            refused: Family::default(),
            warnings: Throttle::default(),
        }
    }

    /// Registers the refusals in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "mesh_handshakes_refused",
            "TLS handshakes refused (the connection reset) because their pod or client was past \
             its handshakes per second",
            self.refused.clone(),
        );
    }

    /// Sets the rate of keys without their own (the agent's flag).
    pub fn set_per_second(&self, per_second: u32) {
        self.per_second.store(per_second.max(1), Ordering::Relaxed);
    }

    /// Whether `key` may start one more handshake now on `listener`, at `own` a second (its
    /// annotation; `None`: the flag's). A refusal is counted.
    pub fn allow(&self, key: &str, own: Option<u32>, listener: HandshakeListener) -> bool {
        let rate = f64::from(own.unwrap_or_else(|| self.per_second.load(Ordering::Relaxed)));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| {
                bucket.refill(now);
                bucket.tokens < bucket.rate
            });
        }
        let room = buckets.len() < MAX_KEYS;
        let allowed = match buckets.get_mut(key) {
            Some(bucket) => {
                bucket.rate = rate;
                bucket.refill(now);
                let allowed = bucket.tokens >= 1.0;
                if allowed {
                    bucket.tokens -= 1.0;
                }
                allowed
            }
            None if room => {
                let tokens = rate - 1.0;
                buckets.insert(
                    key.to_string(),
                    Bucket {
                        tokens,
                        rate,
                        at: now,
                    },
                );
                true
            }
            None => false,
        };
        drop(buckets);
        if !allowed {
            self.refused
                .get_or_create(&ListenerLabels { listener })
                .inc();
            if let Some(suppressed) = self.warnings.allow() {
                tracing::warn!(%key, ?listener, rate, suppressed, "handshakes per second past the limit: resetting");
            }
        }
        allowed
    }

    /// Handshakes refused on `listener`.
    pub fn refused(&self, listener: HandshakeListener) -> u64 {
        self.refused
            .get_or_create(&ListenerLabels { listener })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use HandshakeListener::tunnel;

    #[tokio::test(start_paused = true)]
    async fn a_key_past_its_rate_is_refused_while_another_is_allowed_and_tokens_come_back() {
        let rate = HandshakeRate::new(3);
        let a: Vec<bool> = (0..4).map(|_| rate.allow("shop/a", None, tunnel)).collect();
        assert_eq!(a, [true, true, true, false]);
        assert!(rate.allow("shop/b", None, tunnel), "another pod");
        assert_eq!(rate.refused(tunnel), 1);
        tokio::time::advance(Duration::from_millis(340)).await;
        assert!(
            rate.allow("shop/a", None, tunnel),
            "a third of a second: one more"
        );
        assert!(!rate.allow("shop/a", None, tunnel));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_s_own_rate_replaces_the_flag_for_it() {
        let rate = HandshakeRate::new(100);
        assert!(rate.allow("shop/a", Some(1), tunnel));
        assert!(!rate.allow("shop/a", Some(1), tunnel));
        assert!((0..50).all(|_| rate.allow("shop/b", None, tunnel)));
    }
}
