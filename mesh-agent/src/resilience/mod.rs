//! Resilience: the route timeout, retries, circuit breaking (connection-pool limits) and outlier
//! detection — each a plain decision with a synchronous method, plus a small tower layer that
//! only calls it. The policy structs here are the compiled form the snapshot converts Istio's
//! VirtualService and DestinationRule fields into.

pub mod breaker;
pub mod compiled;
pub mod from_snapshot;
pub mod outcome;
pub mod outlier;
pub mod retry;
pub mod timeout;

pub use breaker::{ConnectionPoolPolicy, DestinationPool, Overflow};
pub use outcome::{LocalFailure, Outcome};
pub use outlier::{OutlierDetector, OutlierPolicy};
pub use retry::{RetriesExhausted, RetryBudget, RetryLayer, RetryPolicy, TriedEndpoints};
pub use timeout::{RouteTimeoutLayer, Timeout};

/// The future our layers return.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

#[cfg(test)]
mod longest_tests;
