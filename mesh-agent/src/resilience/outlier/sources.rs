//! Outlier detectors kept per (source pod, destination), as each pod's sidecar keeps its own:
//! one pod's failures eject nothing for another pod of the node. Memory stays bounded: past
//! [`DEFAULT_DETECTOR_BOUND`] detectors, those the same as new (nothing ejected or counted)
//! are dropped, and their sweeps end with them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{OutlierDetector, OutlierMetrics, OutlierPolicy, SharedDetector};

/// Detectors kept before pristine ones are dropped.
pub const DEFAULT_DETECTOR_BOUND: usize = 10_000;

/// A source pod (`namespace/pod`) and a cluster name.
type DetectorKey = (Arc<str>, String);

/// The detectors of every (source pod, destination) on this node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SourceDetectors {
    detectors: Arc<Mutex<HashMap<DetectorKey, SharedDetector>>>,
    bound: usize,
}

impl Default for SourceDetectors {
    fn default() -> Self {
        Self::with_bound(DEFAULT_DETECTOR_BOUND)
    }
}

impl SourceDetectors {
    /// About `bound` detectors kept (more while more are in use).
    pub fn with_bound(bound: usize) -> Self {
        Self {
            detectors: Arc::default(),
            bound,
        }
    }

    /// The detector of `cluster` for the requests of `source`, following `endpoints`: the
    /// existing one while `policy` is unchanged, else a new one (its sweeps spawned).
    pub fn detector(
        &self,
        source: &Arc<str>,
        cluster: &str,
        policy: OutlierPolicy,
        endpoints: &[SocketAddr],
        metrics: &OutlierMetrics,
    ) -> SharedDetector {
        let mut detectors = self.lock();
        let key = (source.clone(), cluster.to_string());
        if let Some(found) = detectors.get(&key) {
            let mut detector = found.lock();
            if detector.policy() == &policy {
                detector.set_endpoints(endpoints);
                return found.clone();
            }
        }
        if detectors.len() >= self.bound {
            detectors.retain(|_, d| !d.lock().is_pristine());
        }
        let now = tokio::time::Instant::now();
        let detector = OutlierDetector::new(policy, cluster, endpoints, metrics.clone(), now);
        let shared = SharedDetector::new(detector);
        tokio::spawn(shared.clone().run_sweeps());
        detectors.insert(key, shared.clone());
        shared
    }

    /// Every detector: cluster name, source pod, detector; by cluster then source.
    pub fn all(&self) -> Vec<(String, Arc<str>, SharedDetector)> {
        let detectors = self.lock();
        let mut all: Vec<_> = detectors
            .iter()
            .map(|((source, cluster), d)| (cluster.clone(), source.clone(), d.clone()))
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    /// How many detectors are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<DetectorKey, SharedDetector>> {
        self.detectors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::outcome::Outcome;

    fn policy() -> OutlierPolicy {
        OutlierPolicy {
            consecutive_gateway: Some(1),
            max_ejection_percent: 50,
            ..OutlierPolicy::default()
        }
    }

    const A: &str = "127.0.0.2:80";
    const B: &str = "127.0.0.3:80";

    fn detector(detectors: &SourceDetectors, source: &str) -> SharedDetector {
        let endpoints = [A.parse().unwrap(), B.parse().unwrap()];
        let source: Arc<str> = source.into();
        let metrics = OutlierMetrics::default();
        detectors.detector(&source, "outbound|80||web", policy(), &endpoints, &metrics)
    }

    #[tokio::test(start_paused = true)]
    async fn one_pods_ejection_leaves_another_pods_endpoints_eligible() {
        let detectors = SourceDetectors::default();
        let a: SocketAddr = A.parse().unwrap();
        let failed = Outcome::status(503);
        assert!(detector(&detectors, "shop/sleep-0")
            .observe(a, &failed)
            .is_some());
        let both = [a, B.parse().unwrap()];
        assert_eq!(
            detector(&detectors, "shop/sleep-0").eligible(&both).len(),
            1,
            "ejected for the pod that saw it fail"
        );
        assert_eq!(
            detector(&detectors, "shop/sleep-1").eligible(&both),
            both,
            "not for another pod"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_bound_pristine_detectors_are_dropped_and_busy_ones_kept() {
        let detectors = SourceDetectors::with_bound(2);
        let failed = Outcome::status(502);
        detector(&detectors, "a").observe(A.parse().unwrap(), &failed);
        detector(&detectors, "b");
        detector(&detectors, "c");
        let kept: Vec<String> = detectors.all().iter().map(|d| d.1.to_string()).collect();
        assert_eq!(kept, ["a", "c"], "b was the same as new: dropped");
    }
}
