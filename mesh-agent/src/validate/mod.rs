//! Validation: problems found while reading a resource (syntax, types, durations, regexes, enum
//! values, unknown fields) come from [`crate::resources::parse`]; [`check`] adds numbers out of
//! range ([`ranges`]) and Istio's own validation rules, kind by kind ([`rules`]: hosts, names,
//! matches, routes, policies, TLS, security and telemetry settings). Problems that need the
//! other resources (subsets, ports, conflicts) come from the snapshot's reference checks as it
//! compiles; `mesh-agent check` adds [`outlier_warnings`]. What the mesh reads but does not act
//! on is [`unsupported`]; `accessLogFile` is confined by [`access_log_file`].

pub mod access_log_file;
mod authentication;
mod authorization;
mod authz_attributes;
mod destination_rule;
mod destinations;
mod durations;
mod envoy_filter;
mod export_to;
mod finding;
mod gateway;
mod http_match;
mod http_policies;
mod http_route;
mod l4_routes;
mod labels;
mod locality;
mod mesh_config;
mod names;
mod network_policy;
mod outlier;
pub(crate) mod ranges;
mod rules;
mod service_entry;
mod sidecar;
mod telemetry;
mod tls;
pub mod tls_files;
mod traffic_policy;
pub mod unsupported;
mod virtual_service;

pub use outlier::outlier_warnings;

use crate::document::{Problem, RawResource};
use crate::resources::Resource;

/// Every problem validation finds in `resource`, read from `raw`: errors reject it, warnings
/// only inform.
pub(crate) fn check(raw: &RawResource, resource: &Resource) -> Vec<Problem> {
    let mut problems = ranges::check(raw, resource);
    problems.extend(rules::check(raw, resource));
    problems.extend(pod_limits(raw, resource));
    problems
}

/// A warning for each of a pod's cap annotations that cannot be read (the flag applies).
fn pod_limits(raw: &RawResource, resource: &Resource) -> Vec<Problem> {
    let Resource::Pod(pod) = resource else {
        return Vec::new();
    };
    let annotations = pod.metadata.annotations.as_ref();
    let (_, ignored) = crate::resources::pod_limits::PodLimits::read(annotations);
    let warning = |(key, why): (&str, String)| {
        Problem::warning(raw, format!("metadata.annotations.{key}"), why)
    };
    ignored.into_iter().map(warning).collect()
}
