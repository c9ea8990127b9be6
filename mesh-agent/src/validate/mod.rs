//! Validation: problems found while reading a resource (syntax, types, durations, regexes, enum
//! values, unknown fields) come from [`crate::resources::parse`]; problems that need the other
//! resources (subsets, ports, weights, conflicts) come from [`references`].

mod problem;
pub(crate) mod references;

pub use problem::{namespace_of, Problem, Severity};
