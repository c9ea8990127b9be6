//! The data path in-process on loopback, one test binary: the outbound and inbound listeners,
//! the HTTP request stack (routing, faults, resilience, pools, authority, streaming calls), the
//! ingress gateway and the enrollment API, each with a fake capture layer.

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

/// Counts bytes live per thread for `connection_memory` (the system allocator underneath).
#[global_allocator]
static ALLOCATOR: harness::allocations::Counting = harness::allocations::Counting;

mod authority;
mod authz;
mod authz_l4;
mod connection_memory;
mod drain;
mod drain_shutdown;
mod egress;
mod enroll_api;
mod enroll_cli;
mod ext_authz;
mod ext_authz_tcp;
mod gateway_handshakes;
mod gateway_hardening;
mod gateway_http;
mod gateway_https;
mod gateway_mtls;
mod hop_by_hop;
mod http;
mod inbound;
mod jwt;
mod l7_once;
mod legacy_policy;
mod network_policy;
mod origination;
mod outbound;
mod overload;
mod path_normalization;
mod pod_caps;
mod pool_limits;
mod rate_limit;
mod rate_limit_global;
mod resilience;
mod routing;
mod routing_faults;
mod service_entry_weights;
mod socket_lb;
mod streaming;
mod tunnel;
mod tunnel_handshakes;
