//! Rate limits, decided without I/O: Envoy's token buckets ([`token_bucket`]), kept per
//! patch, proxy instance and descriptor in bounded memory ([`buckets`]), a request's
//! descriptors from a route's `rate_limits` ([`descriptors`]), the decision of the
//! `local_ratelimit` filters that apply ([`local`]), and for the global `ratelimit` filters
//! the questions to the rate limit service and what its answers mean ([`global`], in the
//! messages of its gRPC API, [`rls_proto`]). The HTTP layer only applies them.

pub mod buckets;
pub mod descriptors;
pub mod global;
pub mod local;
#[cfg(test)]
mod local_tests;
pub mod rls_proto;
pub mod token_bucket;

pub use buckets::Buckets;
pub use descriptors::RequestFacts;
pub use global::{global_checks, verdict, GlobalCheck, GlobalVerdict};
pub use local::{Limited, LocalRateLimits, RequestPlace, Verdict};
