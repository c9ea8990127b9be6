//! The node agent of the mesh: loads the eBPF capture programs, proxies the connections they
//! hand over and applies routing, resilience, security and telemetry policy.

pub mod access_log;
pub mod admin;
pub mod admin_client;
pub mod admin_clusters;
pub mod admin_routes;
pub mod admin_socket;
pub mod agent;
pub mod attach;
pub mod bpf;
pub mod ca;
pub mod capture;
pub mod certs;
pub mod chance;
pub mod check;
pub mod clock;
pub mod config;
pub mod document;
pub mod drain;
pub mod enroll;
pub mod errors;
pub mod facts;
#[cfg(test)]
mod floors;
pub mod flows;
pub mod gateway;
pub mod handover;
pub mod http;
pub mod identity;
pub mod jwt;
pub mod lb;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod observe;
pub mod pipeline;
pub mod pods;
pub mod proxy;
pub mod resilience;
pub mod resources;
pub mod routing;
pub mod snapshot;
pub mod sources;
pub mod spans;
pub mod upgrade;
pub mod validate;
