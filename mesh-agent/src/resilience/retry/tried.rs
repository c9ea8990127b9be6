//! The endpoints a request has been sent to so far. The retry layer puts one in the request
//! extensions of every try; the balancer below reads it to send a retry elsewhere and records
//! the endpoint it picks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Request extension: endpoints already tried by this request (shared by all its tries).
#[derive(Clone, Debug, Default)]
pub struct TriedEndpoints {
    tried: Arc<Mutex<Vec<SocketAddr>>>,
}

impl TriedEndpoints {
    /// Records that a try goes to `endpoint` (the balancer calls this when it picks).
    pub fn record(&self, endpoint: SocketAddr) {
        let mut tried = self.lock();
        if !tried.contains(&endpoint) {
            tried.push(endpoint);
        }
    }

    /// Whether `endpoint` was tried.
    pub fn contains(&self, endpoint: &SocketAddr) -> bool {
        self.lock().contains(endpoint)
    }

    /// The endpoints tried so far, in order.
    pub fn list(&self) -> Vec<SocketAddr> {
        self.lock().clone()
    }

    /// The candidates not tried yet, or all of them when every one was tried.
    pub fn untried(&self, candidates: &[SocketAddr]) -> Vec<SocketAddr> {
        let tried = self.lock();
        let fresh: Vec<_> = candidates
            .iter()
            .filter(|c| !tried.contains(c))
            .copied()
            .collect();
        if fresh.is_empty() {
            candidates.to_vec()
        } else {
            fresh
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SocketAddr>> {
        self.tried
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untried_prefers_fresh_endpoints_then_falls_back_to_all() {
        let [a, b, c]: [SocketAddr; 3] =
            ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"].map(|s| s.parse().unwrap());
        let tried = TriedEndpoints::default();
        assert_eq!(tried.untried(&[a, b, c]), vec![a, b, c]);
        tried.clone().record(a);
        assert_eq!(tried.untried(&[a, b, c]), vec![b, c]);
        tried.record(b);
        tried.record(c);
        tried.record(c);
        assert_eq!(tried.untried(&[a, b, c]), vec![a, b, c]);
        assert_eq!(tried.list(), vec![a, b, c]);
    }
}
