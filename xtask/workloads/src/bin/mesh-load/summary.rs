//! The run's summary: counts and latency percentiles, printed as one JSON line.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Failures described in the summary at most (the first ones).
const FAILURES_KEPT: usize = 5;

/// Lowest and highest latency the histogram tracks, in microseconds (1 µs … 60 s).
const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 60_000_000;

/// What one connection task measured.
pub struct Tally {
    /// Latency of every measured request, in microseconds.
    pub latency: Histogram<u64>,
    /// Requests that failed (connect, write, read, timeout, or an HTTP answer other than 2xx).
    pub errors: u64,
    /// The first failures, described (what failed and when), for a reader of the summary.
    pub failures: Vec<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Tally {
            latency: Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, 3)
                .expect("static histogram bounds are valid"),
            errors: 0,
            failures: Vec::new(),
        }
    }

    /// Counts one failed request, described as `what` (the first few are kept, stamped with
    /// the wall clock in seconds since the epoch, to be found in the agents' logs).
    pub fn fail(&mut self, what: impl std::fmt::Display) {
        self.errors += 1;
        if self.failures.len() < FAILURES_KEPT {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            self.failures
                .push(format!("{:.3}: {what}", now.as_secs_f64()));
        }
    }

    /// Records one request that took `elapsed`.
    pub fn record(&mut self, elapsed: Duration) {
        let micros = (elapsed.as_micros() as u64).clamp(LOWEST_US, HIGHEST_US);
        self.latency.saturating_record(micros);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        let _ = self.latency.add(&other.latency);
        self.errors += other.errors;
        let room = FAILURES_KEPT.saturating_sub(self.failures.len());
        self.failures
            .extend(other.failures.iter().take(room).cloned());
    }
}

/// The JSON line `mesh-load` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Requests completed during the measured window.
    pub requests: u64,
    /// Requests per second over the measured window.
    pub rps: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    /// Failed requests (any phase; HTTP: any answer other than 2xx too).
    pub errors: u64,
    /// The first failures described (`<unix time>: <what>`), at most 5.
    pub failures: Vec<String>,
    /// The run's shape, echoed back.
    pub connections: u32,
    pub size: usize,
    pub duration_s: f64,
    pub new_connection_per_request: bool,
    /// `tcp`, `http1` or `h2`.
    pub protocol: &'static str,
    /// The fixed total rate asked for (requests/s), if any.
    pub rate: Option<f64>,
}

/// The run's shape, as the options gave it.
#[derive(Clone, Copy, Debug)]
pub struct RunShape {
    pub connections: u32,
    pub size: usize,
    pub new_connection_per_request: bool,
    pub protocol: &'static str,
    pub rate: Option<f64>,
}

impl Summary {
    /// Sums up `tally`, measured over `window`.
    pub fn new(tally: &Tally, window: Duration, shape: RunShape) -> Self {
        let requests = tally.latency.len();
        let quantile = |q| tally.latency.value_at_quantile(q);
        Summary {
            requests,
            rps: requests as f64 / window.as_secs_f64().max(1e-9),
            p50_us: quantile(0.50),
            p90_us: quantile(0.90),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            errors: tally.errors,
            failures: tally.failures.clone(),
            connections: shape.connections,
            size: shape.size,
            duration_s: window.as_secs_f64(),
            new_connection_per_request: shape.new_connection_per_request,
            protocol: shape.protocol,
            rate: shape.rate,
        }
    }
}
