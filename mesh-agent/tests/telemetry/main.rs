//! Telemetry in-process, one test binary: access logs, metrics and their cardinality, traces
//! (export, propagation, through the proxy), eBPF flow series, the Grafana dashboard and the
//! admin endpoints serving them.

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

mod access_log;
mod access_log_live;
mod admin;
mod admin_endpoints;
mod admin_socket;
mod cardinality;
mod flows;
mod grafana_dashboard;
mod health;
mod trace_export;
mod trace_propagation;
mod trace_proxy;
