//! Local rate limits, decided without I/O: Envoy's token buckets ([`token_bucket`]), kept per
//! patch, proxy instance and descriptor in bounded memory ([`buckets`]), a request's
//! descriptors from a route's `rate_limits` ([`descriptors`]), and the decision of the
//! `local_ratelimit` filters that apply ([`local`]). The HTTP layer only applies it.

pub mod buckets;
pub mod descriptors;
pub mod local;
#[cfg(test)]
mod local_tests;
pub mod token_bucket;

pub use buckets::Buckets;
pub use descriptors::RequestFacts;
pub use local::{Limited, LocalRateLimits, RequestPlace, Verdict};
