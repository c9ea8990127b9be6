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
type DetectorKey = (Arc<str>, Arc<str>);

/// A detector and the endpoint list it last followed.
#[derive(Clone, Debug)]
struct Kept {
    detector: SharedDetector,
    endpoints: Arc<[SocketAddr]>,
}

/// The detectors of every (source pod, destination) on this node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SourceDetectors {
    detectors: Arc<Mutex<HashMap<DetectorKey, Kept>>>,
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
    /// existing one while `policy` is unchanged, else a new one (its sweeps spawned). The
    /// endpoints are walked only when they are another list than the one it last followed
    /// (a list is made once per cluster version: see `resilience/compiled.rs`).
    pub fn detector(
        &self,
        source: &Arc<str>,
        cluster: &Arc<str>,
        policy: OutlierPolicy,
        endpoints: &Arc<[SocketAddr]>,
        metrics: &OutlierMetrics,
    ) -> SharedDetector {
        let mut detectors = self.lock();
        let key = (source.clone(), cluster.clone());
        if let Some(found) = detectors.get_mut(&key) {
            let mut detector = found.detector.lock();
            if detector.policy() == &policy {
                if !Arc::ptr_eq(&found.endpoints, endpoints) {
                    detector.set_endpoints(endpoints);
                    drop(detector);
                    found.endpoints = endpoints.clone();
                }
                return found.detector.clone();
            }
        }
        if detectors.len() >= self.bound {
            detectors.retain(|_, kept| !kept.detector.lock().is_pristine());
        }
        let now = tokio::time::Instant::now();
        let detector = OutlierDetector::new(policy, cluster, endpoints, metrics.clone(), now);
        let shared = SharedDetector::new(detector);
        tokio::spawn(shared.clone().run_sweeps());
        let kept = Kept {
            detector: shared.clone(),
            endpoints: endpoints.clone(),
        };
        detectors.insert(key, kept);
        shared
    }

    /// Every detector: cluster name, source pod, detector; by cluster then source.
    pub fn all(&self) -> Vec<(String, Arc<str>, SharedDetector)> {
        let detectors = self.lock();
        let mut all: Vec<_> = detectors
            .iter()
            .map(|((source, cluster), kept)| {
                let detector = kept.detector.clone();
                (cluster.to_string(), source.clone(), detector)
            })
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

    fn lock(&self) -> MutexGuard<'_, HashMap<DetectorKey, Kept>> {
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
        let endpoints: Arc<[SocketAddr]> = [A.parse().unwrap(), B.parse().unwrap()].into();
        following(detectors, source, &endpoints)
    }

    fn following(
        detectors: &SourceDetectors,
        source: &str,
        endpoints: &Arc<[SocketAddr]>,
    ) -> SharedDetector {
        let source: Arc<str> = source.into();
        let metrics = OutlierMetrics::default();
        let cluster: Arc<str> = "outbound|80||web".into();
        detectors.detector(&source, &cluster, policy(), endpoints, &metrics)
    }

    fn known(detector: &SharedDetector) -> Vec<SocketAddr> {
        detector.snapshot().iter().map(|e| e.endpoint).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_detector_follows_a_new_endpoint_list_and_keeps_its_state() {
        let detectors = SourceDetectors::default();
        let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        let both: Arc<[SocketAddr]> = [a, b].into();
        let first = following(&detectors, "shop/sleep-0", &both);
        first.observe(a, &Outcome::status(503));
        let only_a: Arc<[SocketAddr]> = [a].into();
        let next = following(&detectors, "shop/sleep-0", &only_a);
        assert_eq!(known(&next), [a], "b is gone from the new list");
        assert_eq!(
            next.snapshot()[0].ejections,
            1,
            "the same detector: a stays ejected"
        );
        let again = following(&detectors, "shop/sleep-0", &both);
        assert_eq!(known(&again), [a, b], "the list changed back");
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
