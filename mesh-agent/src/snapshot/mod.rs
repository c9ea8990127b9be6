//! The compiled configuration: one immutable [`Snapshot`] built from a [`ResourceSet`](crate::document::ResourceSet) by
//! [`build`], swapped atomically by the agent. Every lookup the data path makes — a route by
//! host and port or by ClusterIP:port, a cluster's endpoints and policy, a pod's workload — is
//! a hash lookup whatever the number of services. Serializable for `/config_dump`.

mod accepted;
mod assemble;
mod authn_policy;
mod authz;
mod authz_model;
mod build;
mod compiled;
mod contain;
mod egress;
mod endpoints;
mod families;
mod fingerprint;
mod incremental;
pub(crate) mod jwt;
mod kube_view;
pub mod membership;
mod memo;
mod model;
mod network_policies;
mod peer_authentication;
pub(crate) mod policy;
mod rate_limits;
mod references;
pub(crate) mod registry;
mod resolved;
mod routes;
mod scope;
mod services;
mod tables;
mod telemetry;
mod workloads;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::Serialize;

use crate::resources::{
    AuthorizationPolicySpec, GatewaySpec, Istio, MeshConfig, OutboundMode, PeerAuthenticationSpec,
    RequestAuthenticationSpec,
};
use crate::validate::access_log_file::AccessLogTarget;
pub use accepted::Rejected;
pub use authz::DRY_RUN_ANNOTATION;
pub use authz_model::{
    AuthzByNamespace, AuthzPolicy, AuthzRule, ConditionMatch, OperationMatch, PathMatch,
    PathSegment, SourceMatch, StringMatch, Values,
};
pub use build::{build, build_with, compile, LoadSettings};
pub use egress::{pseudo_service, Egress, BLACK_HOLE_CLUSTER, PASSTHROUGH_CLUSTER};
pub use families::pod_ips;
pub(crate) use fingerprint::Fingerprints;
pub use jwt::{JwksSource, JwtByNamespace, JwtIssuer, JwtPolicy, TokenLocation};
pub use memo::Memo;
pub use model::*;
pub use peer_authentication::PeerAuthenticationMode;
pub use policy::merge as merge_traffic_policy;
pub use rate_limits::{RateLimitFilter, RateLimitFilters};
pub use registry::{Registry, CLUSTER_DOMAIN};
pub use resolved::{dns_names, ResolvedNames};
pub use routes::{HostRoutes, MESH_GATEWAY};
pub use scope::{scope_namespaces, PolicyScope};
pub use services::protocol_named;
pub use telemetry::{TelemetryByNamespace, TelemetryPolicy};
pub use workloads::workload_name;

/// Policies of one kind, by namespace (`istio-system` holds the mesh-wide ones).
pub type PoliciesByNamespace<S> = HashMap<String, Vec<Arc<Istio<S>>>>;

/// The mesh configuration in force. Immutable; build a new one to change anything.
#[derive(Debug, Default, Serialize)]
pub struct Snapshot {
    /// Mesh-wide settings (Istio's defaults when no MeshConfig was given).
    pub mesh: MeshConfig,
    /// Where the mesh's `accessLogFile` sends access logs, checked against the agent's
    /// access-log directory.
    pub access_log: AccessLogTarget,
    /// The only directory DestinationRule certificate files are read from (`--tls-file-dir`).
    pub tls_file_dir: std::path::PathBuf,
    registry: Registry,
    clusters: HashMap<String, Vec<Arc<Cluster>>>,
    routes: HashMap<String, Vec<Arc<HostRoutes>>>,
    gateways: BTreeMap<String, GatewayEntry>,
    workloads: HashMap<IpAddr, Arc<Workload>>,
    authorization: PoliciesByNamespace<AuthorizationPolicySpec>,
    /// The AuthorizationPolicies compiled, by namespace.
    #[serde(skip)]
    authz: AuthzByNamespace,
    peer_authentication: PoliciesByNamespace<PeerAuthenticationSpec>,
    request_authentication: PoliciesByNamespace<RequestAuthenticationSpec>,
    /// Kubernetes NetworkPolicies, by namespace (`network_policies.rs`).
    network_policies: network_policies::NetworkPoliciesByNamespace,
    /// The RequestAuthentications compiled for the request path.
    #[serde(skip)]
    jwt: JwtByNamespace,
    outbound: HashMap<String, OutboundMode>,
    /// Namespace-wide Sidecars' `egress.hosts`, by namespace.
    sidecar_hosts: HashMap<String, Vec<String>>,
    telemetry: TelemetryByNamespace,
    /// EnvoyFilters' local rate limits.
    pub rate_limits: RateLimitFilters,
    rejected: Vec<Rejected>,
    #[serde(skip)]
    accepted: accepted::AcceptedMap,
    /// Compiled services and clusters with their inputs, for the next build to reuse.
    #[serde(skip)]
    compiled: compiled::CompiledServices,
    /// The DNS answers this snapshot's ServiceEntries were compiled with.
    #[serde(skip)]
    names: Arc<ResolvedNames>,
    /// What compiling the accepted resources found (references, conflicts, conversions): found
    /// again by a build that carries this snapshot over (`incremental.rs`).
    #[serde(skip)]
    compile_problems: Vec<crate::document::Problem>,
    /// The MeshConfig's default retry policy, compiled on first use (`resilience/compiled.rs`).
    #[serde(skip)]
    pub default_retries: Memo,
}

/// A Gateway with the routes VirtualServices bind to it, merged per host.
#[derive(Clone, Debug, Serialize)]
pub struct GatewayEntry {
    pub gateway: Arc<Istio<GatewaySpec>>,
    pub routes: HashMap<String, Arc<HostRoutes>>,
}

impl Snapshot {
    /// The service `host` names for a client in `namespace` (any spelling).
    pub fn service(&self, host: &str, namespace: &str) -> Option<&Service> {
        self.registry.lookup(host, namespace)
    }

    /// The service and port at a ClusterIP:port.
    pub fn service_at(&self, addr: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        self.registry.at(addr)
    }

    /// The Service port an outbound connection to `addr` is for: a ClusterIP:port, else the
    /// Service whose endpoint `addr` is ([`Registry::behind`]: a socket load balancer such as
    /// Cilium's translated the ClusterIP before the capture hook ran), first by namespace/name.
    pub fn outbound_service(&self, addr: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        self.outbound_service_named(addr, None, "")
    }

    /// [`outbound_service`](Self::outbound_service) for an HTTP request whose authority is
    /// `host`, from a client in `namespace`: among the Services a backend serves, the one the
    /// host names wins.
    pub fn outbound_service_named(
        &self,
        addr: SocketAddr,
        host: Option<&str>,
        namespace: &str,
    ) -> Option<(&Arc<Service>, &ServicePort)> {
        let behind = || self.registry.behind(addr, host, namespace);
        self.registry.at(addr).or_else(behind)
    }

    /// The service and port that an endpoint (pod IP:target port) serves: what inbound
    /// telemetry names as the destination service.
    pub fn service_of_endpoint(
        &self,
        endpoint: SocketAddr,
    ) -> Option<(&Arc<Service>, &ServicePort)> {
        self.registry.serving(endpoint)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The mesh routes for `host:port` seen by a client in `namespace`: the VirtualService of
    /// the client's namespace first, else the oldest exported to it. `None`: route to `host`.
    pub fn routes(&self, host: &str, port: u16, namespace: &str) -> Option<&Arc<RouteTable>> {
        let host = self.registry.canonical(host, namespace);
        let candidates = wildcard_get(&self.routes, &host)?;
        let own = candidates.iter().find(|r| r.namespace == namespace);
        let chosen =
            own.or_else(|| candidates.iter().find(|r| r.visibility.includes(namespace)))?;
        Some(chosen.table(port))
    }

    /// The mesh routes for a connection to a ClusterIP:port (or a backend of one).
    pub fn routes_at(&self, addr: SocketAddr, namespace: &str) -> Option<&Arc<RouteTable>> {
        let (service, port) = self.outbound_service(addr)?;
        self.routes(&service.hostname, port.port, namespace)
    }

    /// The routes a gateway (`ns/name`) has for `host:port`.
    pub fn gateway_routes(&self, gateway: &str, host: &str, port: u16) -> Option<&Arc<RouteTable>> {
        let entry = self.gateways.get(gateway)?;
        Some(wildcard_get(&entry.routes, host)?.table(port))
    }

    /// Every gateway by `ns/name`.
    pub fn gateways(&self) -> &BTreeMap<String, GatewayEntry> {
        &self.gateways
    }

    /// The cluster for a canonical `host`, `port` and optional `subset`.
    pub fn cluster(&self, host: &str, port: u16, subset: Option<&str>) -> Option<&Arc<Cluster>> {
        let clusters = self.clusters.get(host)?;
        clusters
            .iter()
            .find(|c| c.port == port && c.subset.as_deref() == subset)
    }

    /// Every cluster (for `/clusters`).
    pub fn clusters(&self) -> impl Iterator<Item = &Arc<Cluster>> {
        self.clusters.values().flatten()
    }

    /// Whether the cluster named `outbound|PORT|SUBSET|HOST` exists.
    pub fn has_cluster(&self, name: &str) -> bool {
        let host = name.rsplit('|').next().unwrap_or_default();
        let clusters = self.clusters.get(host);
        clusters.is_some_and(|list| list.iter().any(|c| c.name == name))
    }

    /// The workload of the pod with IP `ip`.
    pub fn workload(&self, ip: IpAddr) -> Option<&Arc<Workload>> {
        self.workloads.get(&ip)
    }

    /// The pod `namespace/pod_name` and one of its IPs (`mesh-agent authz check`).
    pub fn workload_named(
        &self,
        namespace: &str,
        pod_name: &str,
    ) -> Option<(IpAddr, &Arc<Workload>)> {
        let mut found = self
            .workloads
            .iter()
            .filter(|(_, w)| w.namespace == namespace && w.pod_name == pod_name);
        found.next().map(|(ip, w)| (*ip, w))
    }

    /// The Telemetry settings for a workload in `namespace` with `labels` that the registry
    /// does not hold (workloads it holds carry theirs: [`Workload::telemetry`]).
    pub fn telemetry_for(&self, namespace: &str, labels: &Labels) -> TelemetryPolicy {
        let root = &self.mesh.root_namespace;
        telemetry::resolve(&self.telemetry, root, namespace, labels)
    }

    /// The mesh-wide Telemetry settings (the root namespace's): for a side of a hop whose
    /// workload is not known.
    pub fn mesh_telemetry(&self) -> TelemetryPolicy {
        self.telemetry_for(&self.mesh.root_namespace, &Labels::default())
    }

    /// Whether some Telemetry resource turns access logs on.
    pub fn telemetry_enables_access_log(&self) -> bool {
        let mut logging = self.telemetry.values().flatten();
        logging.any(|t| {
            t.spec
                .access_logging
                .iter()
                .any(|l| l.disabled != Some(true))
        })
    }

    /// ALLOW_ANY or REGISTRY_ONLY for clients in `namespace` (a Sidecar there, else MeshConfig).
    pub fn outbound_mode(&self, namespace: &str) -> OutboundMode {
        let mesh = self.mesh.outbound_traffic_policy.mode;
        self.outbound.get(namespace).copied().unwrap_or(mesh)
    }

    /// AuthorizationPolicies of `namespace` (callers add the root namespace's and check
    /// selectors against the workload's labels).
    pub fn authorization_policies(
        &self,
        namespace: &str,
    ) -> &[Arc<Istio<AuthorizationPolicySpec>>] {
        self.authorization
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The compiled AuthorizationPolicies of `namespace`, in name order (`authz::policies_for`
    /// picks those in scope of a workload).
    pub fn authz_policies(&self, namespace: &str) -> &[Arc<AuthzPolicy>] {
        self.authz
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// PeerAuthentications of `namespace`.
    pub fn peer_authentications(&self, namespace: &str) -> &[Arc<Istio<PeerAuthenticationSpec>>] {
        self.peer_authentication
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// RequestAuthentications of `namespace`.
    pub fn request_authentications(
        &self,
        namespace: &str,
    ) -> &[Arc<Istio<RequestAuthenticationSpec>>] {
        self.request_authentication
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The compiled RequestAuthentications of `namespace`.
    pub fn jwt_policies(&self, namespace: &str) -> &[Arc<JwtPolicy>] {
        self.jwt
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Resources rejected by the last build, and whether an older version still serves.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// Number of resources in force.
    pub fn resource_count(&self) -> usize {
        self.accepted.len()
    }

    /// The Secret `namespace/name` in force (a gateway's `credentialName`).
    pub fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&k8s_openapi::api::core::v1::Secret> {
        let key = crate::document::ResourceKey {
            kind: "Secret".into(),
            namespace: namespace.into(),
            name: name.into(),
        };
        match self.accepted.get(&key)?.resource.as_ref() {
            crate::resources::Resource::Secret(secret) => Some(secret),
            _ => None,
        }
    }
}

/// `map[host]`, else the most specific wildcard (`*.example.com`, then `*`).
fn wildcard_get<'a, V>(map: &'a HashMap<String, V>, host: &str) -> Option<&'a V> {
    if let Some(value) = map.get(host) {
        return Some(value);
    }
    let mut rest = host;
    while let Some((_, suffix)) = rest.split_once('.') {
        if let Some(value) = map.get(&format!("*.{suffix}")) {
            return Some(value);
        }
        rest = suffix;
    }
    map.get("*")
}
