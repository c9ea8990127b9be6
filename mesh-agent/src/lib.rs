//! The node agent of the mesh: loads the eBPF capture programs, proxies the connections they
//! hand over and applies routing, resilience, security and telemetry policy.

pub mod admin;
pub mod agent;
pub mod attach;
pub mod bpf;
pub mod capture;
pub mod check;
pub mod config;
pub mod discovery;
pub mod enroll;
pub mod http;
pub mod metrics;
pub mod netns;
pub mod pods;
pub mod protocol;
pub mod proxy;
pub mod resilience;
pub mod resources;
pub mod snapshot;
pub mod sources;
pub mod validate;
