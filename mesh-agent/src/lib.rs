//! The node agent of the mesh: loads the eBPF capture programs, proxies the connections they
//! hand over and applies routing, resilience, security and telemetry policy.

pub mod bpf;
pub mod capture;
