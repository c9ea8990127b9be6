//! The outlier detector of one destination: a plain state machine fed each try's outcome per
//! endpoint with the time it happened, answering which endpoints the balancer may use.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock;

use super::{EjectionReason, OutlierMetrics, OutlierPolicy};
use crate::resilience::outcome::{LocalFailure, Outcome};

/// The detector of one destination (`name` labels its metrics).
#[derive(Debug)]
pub struct OutlierDetector {
    policy: OutlierPolicy,
    name: String,
    endpoints: BTreeMap<SocketAddr, Health>,
    pub(super) next_sweep: Instant,
    metrics: OutlierMetrics,
    /// Its share of `mesh_outlier_ejected_endpoints` (several detectors, one per source pod,
    /// add up under one destination).
    reported: usize,
}

#[derive(Clone, Debug, Default)]
struct Health {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    consecutive_local_origin: u32,
    ejections: u32,
    ejected: Option<(Instant, EjectionReason)>,
}

/// One endpoint's state, for `/clusters`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EndpointState {
    /// The endpoint.
    pub endpoint: SocketAddr,
    /// Why it is ejected now, if it is.
    pub ejected: Option<EjectionReason>,
    /// How long until it returns.
    pub returns_in: Option<Duration>,
    /// Its ejections so far (the ejection-time multiplier).
    pub ejections: u32,
    /// Its current run of 5xx answers.
    pub consecutive_5xx: u32,
    /// Its current run of gateway errors.
    pub consecutive_gateway: u32,
    /// Its current run of local-origin failures.
    pub consecutive_local_origin: u32,
}

impl OutlierDetector {
    /// A detector for destination `name` over `endpoints`.
    pub fn new(
        policy: OutlierPolicy,
        name: &str,
        endpoints: &[SocketAddr],
        metrics: OutlierMetrics,
        now: Instant,
    ) -> Self {
        let endpoints = endpoints.iter().map(|e| (*e, Health::default())).collect();
        let next_sweep = clock::deadline(now, policy.interval);
        Self {
            policy,
            name: name.into(),
            endpoints,
            next_sweep,
            metrics,
            reported: 0,
        }
    }

    /// The policy it applies.
    pub fn policy(&self) -> &OutlierPolicy {
        &self.policy
    }

    /// Follows a new endpoint list: new endpoints start healthy, gone ones are forgotten.
    pub fn set_endpoints(&mut self, endpoints: &[SocketAddr]) {
        self.endpoints.retain(|e, _| endpoints.contains(e));
        for endpoint in endpoints {
            self.endpoints.entry(*endpoint).or_default();
        }
        self.report_ejected();
    }

    /// Whether it is the same as a new detector: nothing ejected, no failure counted, no
    /// ejection remembered (so it can be dropped and made again).
    pub fn is_pristine(&self) -> bool {
        self.endpoints.values().all(Health::is_pristine)
    }

    /// Records that a try to `endpoint` came to `outcome` at `now`; returns the reason when
    /// this ejects the endpoint.
    pub fn observe(
        &mut self,
        endpoint: SocketAddr,
        outcome: &Outcome,
        now: Instant,
    ) -> Option<EjectionReason> {
        self.sweep_if_due(now);
        let split = self.policy.split_external_local_origin_errors;
        let health = self
            .endpoints
            .get_mut(&endpoint)
            .filter(|h| h.ejected.is_none())?;
        health.count(outcome, split);
        let reason = health.tripped(&self.policy)?;
        self.eject(endpoint, reason, now).then_some(reason)
    }

    /// Whether `endpoint` is ejected at `now`.
    pub fn is_ejected(&self, endpoint: &SocketAddr, now: Instant) -> bool {
        self.endpoints
            .get(endpoint)
            .is_some_and(|h| h.ejected_at(now))
    }

    /// Whether no endpoint is ejected at `now` ([`eligible`](Self::eligible) then keeps every
    /// candidate).
    pub fn ejects_none(&self, now: Instant) -> bool {
        !self.endpoints.values().any(|h| h.ejected_at(now))
    }

    /// The candidates the balancer may use at `now`: those not ejected, or all of them when
    /// the healthy share is below `minHealthPercent`. Empty when all are ejected (`UH`).
    pub fn eligible(&self, candidates: &[SocketAddr], now: Instant) -> Vec<SocketAddr> {
        let healthy: Vec<_> = candidates
            .iter()
            .filter(|e| !self.is_ejected(e, now))
            .copied()
            .collect();
        let below = (healthy.len() as u64) * 100
            < u64::from(self.policy.min_health_percent) * candidates.len() as u64;
        if below {
            candidates.to_vec()
        } else {
            healthy
        }
    }

    /// Returns endpoints whose ejection time has passed and eases the multiplier of endpoints
    /// healthy since the last sweep. Runs every `interval`; [`observe`](Self::observe) calls it
    /// when due.
    pub fn sweep(&mut self, now: Instant) {
        for health in self.endpoints.values_mut() {
            match health.ejected {
                Some((until, _)) if until <= now => health.ejected = None,
                None if health.ejections > 0 => health.ejections -= 1,
                _ => {}
            }
        }
        self.next_sweep = clock::deadline(now, self.policy.interval);
        self.report_ejected();
    }

    /// Every endpoint's state at `now`, for `/clusters`.
    pub fn snapshot(&self, now: Instant) -> Vec<EndpointState> {
        self.endpoints
            .iter()
            .map(|(e, h)| h.state(*e, now))
            .collect()
    }

    pub(super) fn sweep_if_due(&mut self, now: Instant) {
        if now >= self.next_sweep {
            self.sweep(now);
        }
    }

    fn eject(&mut self, endpoint: SocketAddr, reason: EjectionReason, now: Instant) -> bool {
        let ejected = self.ejected_count();
        let total = self.endpoints.len() as u64;
        let within =
            (ejected as u64 + 1) * 100 <= u64::from(self.policy.max_ejection_percent) * total;
        if !(within || ejected == 0) {
            return false;
        }
        let policy = self.policy;
        let health = self
            .endpoints
            .get_mut(&endpoint)
            .expect("observed endpoints exist");
        health.ejections += 1;
        let until = clock::deadline(now, policy.ejection_time(health.ejections));
        health.ejected = Some((until, reason));
        health.reset();
        self.metrics.ejected(&self.name, reason);
        self.report_ejected();
        true
    }

    /// Moves its share of the ejected-endpoints gauge to what is ejected now.
    fn report_ejected(&mut self) {
        let now = self.ejected_count();
        self.metrics
            .add_ejected(&self.name, now as i64 - self.reported as i64);
        self.reported = now;
    }

    fn ejected_count(&self) -> usize {
        self.endpoints
            .values()
            .filter(|h| h.ejected.is_some())
            .count()
    }
}

impl Drop for OutlierDetector {
    /// A detector replaced or dropped takes its ejected endpoints out of the gauge.
    fn drop(&mut self) {
        self.metrics
            .add_ejected(&self.name, -(self.reported as i64));
    }
}

impl Health {
    fn is_pristine(&self) -> bool {
        self.ejected.is_none()
            && self.ejections == 0
            && self.consecutive_5xx == 0
            && self.consecutive_gateway == 0
            && self.consecutive_local_origin == 0
    }

    /// Counts `outcome` Envoy's way: unless split, a local failure counts as a 503 (a timeout
    /// as a 504); split, it counts apart and an answer clears the local-origin run.
    fn count(&mut self, outcome: &Outcome, split: bool) {
        let status = match outcome {
            // The destination's own limit, not the endpoint's failure.
            Outcome::Failure(LocalFailure::Overflow) => return,
            Outcome::Response { status, .. } => {
                if split {
                    self.consecutive_local_origin = 0;
                }
                status.as_u16()
            }
            Outcome::Failure(_) if split => {
                self.consecutive_local_origin += 1;
                return;
            }
            Outcome::Failure(LocalFailure::Timeout) => 504,
            Outcome::Failure(_) => 503,
        };
        bump(&mut self.consecutive_5xx, (500..600).contains(&status));
        bump(&mut self.consecutive_gateway, (502..=504).contains(&status));
    }

    fn tripped(&self, policy: &OutlierPolicy) -> Option<EjectionReason> {
        let reached =
            |threshold: Option<u32>, run: u32| threshold.is_some_and(|n| n > 0 && run >= n);
        if reached(policy.consecutive_gateway, self.consecutive_gateway) {
            Some(EjectionReason::ConsecutiveGateway)
        } else if reached(policy.consecutive_5xx, self.consecutive_5xx) {
            Some(EjectionReason::Consecutive5xx)
        } else if policy.split_external_local_origin_errors
            && reached(
                policy.consecutive_local_origin,
                self.consecutive_local_origin,
            )
        {
            Some(EjectionReason::ConsecutiveLocalOrigin)
        } else {
            None
        }
    }

    fn reset(&mut self) {
        self.consecutive_5xx = 0;
        self.consecutive_gateway = 0;
        self.consecutive_local_origin = 0;
    }

    fn ejected_at(&self, now: Instant) -> bool {
        self.ejected.is_some_and(|(until, _)| until > now)
    }

    fn state(&self, endpoint: SocketAddr, now: Instant) -> EndpointState {
        let current = self.ejected.filter(|_| self.ejected_at(now));
        EndpointState {
            endpoint,
            ejected: current.map(|(_, reason)| reason),
            returns_in: current.map(|(until, _)| until - now),
            ejections: self.ejections,
            consecutive_5xx: self.consecutive_5xx,
            consecutive_gateway: self.consecutive_gateway,
            consecutive_local_origin: self.consecutive_local_origin,
        }
    }
}

fn bump(run: &mut u32, failed: bool) {
    *run = if failed { run.saturating_add(1) } else { 0 };
}

#[cfg(test)]
#[path = "detector_tests.rs"]
mod tests;
