//! Configuration in-process, one test binary: validation and `mesh-agent check`, the compiled
//! snapshot (routes, incremental rebuilds, state), hot reload, and the directory and
//! Kubernetes sources.

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

mod authz_check;
mod ca;
mod ca_root;
mod certs;
mod check;
mod dns;
mod dual_stack;
mod incremental;
mod locality;
mod reload;
mod routes;
mod sources_directory;
mod sources_kubernetes;
mod sources_kubernetes_discovery;
mod sources_kubernetes_secrets;
mod state;
mod telemetry;
mod unsupported;
mod validation;
