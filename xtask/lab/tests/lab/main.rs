//! The lab tests, one test binary: privileged tests (root, real eBPF, namespaces, cgroups) that
//! bring up labs named `t-*` through the `mesh-lab` library and print `skipped: <why>` without
//! root. They need the eBPF object and the binaries the pods run built first:
//! `cargo xtask build-ebpf --release` and `cargo build --workspace --exclude mesh-ebpf --bins`.
//!
//! Lab names must not extend one another (`t-x`, `t-x-y`): tests run side by side and one lab's
//! teardown would match the other's namespaces.

mod mesh_support;
mod prometheus_support;
mod support;

/// `lab apply` / `lab delete` on a running lab; `lab status` phases.
mod apply;
/// AuthorizationPolicies enforced at the destination: L7 and TCP rules, DENY, dry run.
mod authz;
/// Workload certificates from the lab's CA: `/certs` against `lab ca-root`.
mod certs;
/// Cilium's socket load balancer (a stand-in) before and after the mesh's connect hook.
mod cilium;
/// Enrollment through mesh-cni: at creation, namespace labels live, recovery after stop/kill.
mod cni;
/// AuthorizationPolicy denials decided in connect() on the source's node.
mod connect_deny;
/// The agent's drain on SIGTERM; its liveness endpoint.
mod drain;
/// IPv6 and dual-stack labs: both families captured, routed and steered inbound.
mod dual_stack;
/// Egress: REGISTRY_ONLY in connect() and at the proxy, ALLOW_ANY passthrough, TCP route splits.
mod egress;
/// Istio's egress gateway task: a labelled node's agent plays the gateway; traffic leaves from it.
mod egress_gateway;
/// External hosts: the lab's DNS followed by a DNS ServiceEntry; HTTPS by SNI and by origination.
mod external_hosts;
/// Fail open by default, `--fail-closed` on request: refused while no agent runs.
mod fail_closed;
/// The ingress gateway.
mod gateway;
/// The gateway hardened: Secrets in the gateway workload's namespace, no way into the node.
mod gateway_hardening;
/// The gateway's own identity: a STRICT workload answers it through the tunnel.
mod gateway_identity;
/// Istio's global rate limit task: two nodes' agents ask one rate limit service.
mod global_rate_limit;
/// Bad input is refused and creates nothing.
mod input;
/// RequestAuthentication: an issuer's key set served by an external lab host; forged tokens get 401.
mod jwt;
/// The L4 byte paths the kernel shortens: sk_msg acceleration, sk_skb splicing.
mod l4_paths;
/// L7: routing, rewrite, redirect, direct response, headers, gRPC, load balancing.
mod l7;
/// Locality-aware balancing: the agent's own locality preferred, failover when it is gone.
mod locality;
/// Capture and the L4 proxy.
mod mesh;
/// The agents' life: stopped, started, enrolment, teardown.
mod mesh_agent;
/// The mTLS tunnel between nodes: TLS on the wire, principals, PeerAuthentication STRICT.
mod mtls;
/// The lab itself: pods, Services and external hosts wired; `down` leaves nothing behind.
mod network;
/// Kubernetes NetworkPolicy ingress rules on the same-node fast path.
mod network_policy;
/// A resource past its range, applied live, fails alone.
mod poison;
/// A real Prometheus scraping the agents; `lab top`.
mod prometheus;
/// Istio's local rate limit task: its EnvoyFilter applied live.
mod rate_limit;
/// Retries, outlier ejection, circuit breaker, timeout, a killed endpoint.
mod resilience;
/// Certificates renewed every few seconds while traffic crosses the tunnel: nothing dropped.
mod rotation;
/// VirtualService routing by weight and header.
mod routing;
/// A VirtualService Istio's validation rejects (`retryOn`), applied live, fails alone.
mod rules;
/// What a pod cannot do to escape capture.
mod security;
/// A namespace's Sidecar (egress.hosts, REGISTRY_ONLY) narrows that namespace only.
mod sidecar;
/// Istio metrics with exact counts, principals, access logs.
mod telemetry;
/// Faults, mirrors, splits, protocols.
mod traffic;
/// An unknown field (a typo), applied live, is rejected; the last good route serves.
mod typo;
/// Upgrades: a successor agent takes the listeners over while traffic flows (`lab agent upgrade`).
mod upgrade;
