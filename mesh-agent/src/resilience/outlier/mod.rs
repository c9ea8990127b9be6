//! Outlier detection (DestinationRule `outlierDetection`), with Envoy's semantics: an endpoint
//! that fails too many times in a row is ejected for `baseEjectionTime` × its number of
//! ejections and gets no traffic until it returns, within `maxEjectionPercent`; below
//! `minHealthPercent` healthy endpoints the balancer spreads over all of them. Each source
//! pod has its own detector per destination ([`sources`]), as its sidecar would.

pub mod detector;
pub mod layer;
pub mod metrics;
pub mod shared;
pub mod sources;

use std::time::Duration;

use crate::clock;

pub use detector::{EndpointState, OutlierDetector};
pub use layer::{OutlierReport, OutlierReportLayer};
pub use metrics::OutlierMetrics;
pub use shared::SharedDetector;
pub use sources::SourceDetectors;

/// A destination's `outlierDetection`, compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierPolicy {
    /// `consecutive5xxErrors` (local-origin failures count too unless split); `None`: off.
    pub consecutive_5xx: Option<u32>,
    /// `consecutiveGatewayErrors`: 502, 503, 504 (and local-origin failures unless split).
    pub consecutive_gateway: Option<u32>,
    /// `consecutiveLocalOriginFailures`, counted only with `split_external_local_origin_errors`.
    pub consecutive_local_origin: Option<u32>,
    /// `splitExternalLocalOriginErrors`: count connect failures, resets and timeouts apart.
    pub split_external_local_origin_errors: bool,
    /// `interval`: how often ejected endpoints are checked for return.
    pub interval: Duration,
    /// `baseEjectionTime`: an ejection lasts this × the endpoint's number of ejections.
    pub base_ejection_time: Duration,
    /// The longest ejection (Envoy's `max_ejection_time`, 300 s; at least the base).
    pub max_ejection_time: Duration,
    /// `maxEjectionPercent`: the share of endpoints that may be ejected at once (one always may).
    pub max_ejection_percent: u32,
    /// `minHealthPercent`: below this share of healthy endpoints, balance over all of them.
    pub min_health_percent: u32,
}

impl Default for OutlierPolicy {
    /// Istio's (Envoy's) defaults: 5 consecutive 5xx, 10 s interval, 30 s base ejection,
    /// 10 % max ejection, 0 % min health, local-origin errors not split.
    fn default() -> Self {
        Self {
            consecutive_5xx: Some(5),
            consecutive_gateway: None,
            consecutive_local_origin: Some(5),
            split_external_local_origin_errors: false,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            min_health_percent: 0,
        }
    }
}

impl OutlierPolicy {
    /// Applies the deprecated `consecutiveErrors: n` as Istio does: it counts only gateway
    /// errors (502/503/504) and turns consecutive-5xx off, so a backend answering 500 is never
    /// ejected by it. A `consecutive5xxErrors` set too is applied after this, overriding.
    pub fn with_consecutive_errors(self, n: u32) -> Self {
        Self {
            consecutive_gateway: Some(n),
            consecutive_5xx: None,
            ..self
        }
    }

    fn ejection_time(&self, ejections: u32) -> Duration {
        let cap = self.max_ejection_time.max(self.base_ejection_time);
        clock::times(self.base_ejection_time, ejections).min(cap)
    }
}

/// Why an endpoint was ejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EjectionReason {
    /// `consecutive5xxErrors` reached.
    // Spelled as the `mesh_outlier_ejections_total` reason label (snake_case would drop the `_`).
    #[serde(rename = "consecutive_5xx")]
    Consecutive5xx,
    /// `consecutiveGatewayErrors` (or the old `consecutiveErrors`) reached.
    ConsecutiveGateway,
    /// `consecutiveLocalOriginFailures` reached.
    ConsecutiveLocalOrigin,
}

#[cfg(test)]
mod tests {
    use super::EjectionReason;

    #[test]
    fn clusters_spell_reasons_as_the_metric_labels() {
        let spelled = |r| serde_json::to_string(&r).unwrap();
        assert_eq!(
            spelled(EjectionReason::Consecutive5xx),
            "\"consecutive_5xx\""
        );
        assert_eq!(
            spelled(EjectionReason::ConsecutiveGateway),
            "\"consecutive_gateway\""
        );
        assert_eq!(
            spelled(EjectionReason::ConsecutiveLocalOrigin),
            "\"consecutive_local_origin\""
        );
    }
}
