//! Validation: problems found while reading a resource (syntax, types, durations, regexes, enum
//! values, unknown fields) come from [`crate::resources::parse`], numbers out of range from
//! [`ranges`]; problems that need the other resources (subsets, ports, weights, conflicts) come
//! from the snapshot's reference checks as it compiles; `mesh-agent check` adds
//! [`outlier_warnings`]. What the mesh reads but does not act on is [`unsupported`];
//! `accessLogFile` is confined by [`access_log_file`].

pub mod access_log_file;
mod outlier;
pub(crate) mod ranges;
pub mod unsupported;

pub use outlier::outlier_warnings;
