//! Validation: problems found while reading a resource (syntax, types, durations, regexes, enum
//! values, unknown fields) come from [`crate::resources::parse`], numbers out of range from
//! [`ranges`]; problems that need the other resources (subsets, ports, weights, conflicts) come
//! from the snapshot's reference checks as it compiles; `mesh-agent check` adds
//! [`outlier_warnings`].

mod outlier;
pub(crate) mod ranges;

pub use outlier::outlier_warnings;
