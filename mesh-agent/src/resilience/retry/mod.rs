//! Retries: the policy (`retryOn`, `attempts`, `perTryTimeout`, backoff), the per-destination
//! cap on concurrent retries (`maxRetries`), the retry buffer (the body streamed to the first
//! try, a copy kept for the next), the tried-endpoints record the balancer reads, and the layer
//! that ties them together.

pub mod body;
pub mod budget;
pub mod layer;
pub mod metrics;
pub mod policy;
pub mod replay;
pub mod tried;

pub use budget::RetryBudget;
pub use layer::{RetriesExhausted, Retry, RetryLayer, RetryLimitReached};
pub use metrics::RetryMetrics;
pub use policy::{Backoff, Condition, RetryOn, RetryPolicy, UnknownRetryOn};
pub use replay::{ReplayBuffer, RetryBody, Superseded};
pub use tried::TriedEndpoints;
