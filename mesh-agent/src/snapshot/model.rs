//! What a snapshot holds once compiled: services with hostnames, ports and endpoints; clusters
//! (a service port, optionally one subset, with its merged traffic policy); route tables.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::memo::Memo;
use crate::resources::{HttpRoute, TcpRoute, TlsRoute, TrafficPolicy};

/// Labels of a pod or endpoint.
pub type Labels = BTreeMap<String, String>;

/// A host in the registry: a Kubernetes Service or a ServiceEntry host.
#[derive(Clone, Debug, Serialize)]
pub struct Service {
    /// Canonical hostname: `name.ns.svc.cluster.local`, or the ServiceEntry host.
    pub hostname: String,
    /// Namespace of the Service / ServiceEntry.
    pub namespace: String,
    /// Name of the Service / ServiceEntry.
    pub name: String,
    /// ClusterIPs or ServiceEntry addresses.
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
    pub endpoints: Vec<Endpoint>,
    /// A dual-stack Service's endpoints in its other family (`endpoints` hold its primary one):
    /// a destination there is recognised as its backend, never balanced to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_family_endpoints: Vec<Endpoint>,
    /// ServiceEntry `addresses` written as CIDRs (single addresses are in `addresses`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<ipnet::IpNet>,
    /// The DNS names its endpoints are resolved from (ServiceEntry `resolution: DNS`), resolved
    /// by the agent ([`ResolvedNames`](super::ResolvedNames)) or not yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// ServiceEntry `resolution: NONE`: connections go to the address the app dialled.
    pub passthrough: bool,
    /// A ServiceEntry with `location: MESH_EXTERNAL`.
    pub external: bool,
    /// A ServiceEntry host (not a Kubernetes Service).
    pub from_entry: bool,
    /// Which namespaces see it.
    pub visibility: Visibility,
}

/// One port of a service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServicePort {
    pub port: u16,
    pub name: String,
    pub protocol: Protocol,
}

/// A port's declared protocol (Service `appProtocol` or name prefix, ServiceEntry `protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    Https,
    Tls,
    Tcp,
    /// Not declared: detected per connection.
    Unknown,
}

/// Where an endpoint is reached.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Address {
    Ip(IpAddr),
    /// A DNS name, resolved when connecting (ServiceEntry `resolution: DNS`).
    Dns(String),
}

/// One backend of a service: its address, the target port for each service port, its labels.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    pub address: Address,
    /// Service port → target port; shared by the endpoints of one EndpointSlice or subset.
    pub ports: Arc<BTreeMap<u16, u16>>,
    pub labels: Arc<Labels>,
    /// The pod behind it, when known.
    pub pod: Option<String>,
    /// Its share of the load against the service's other endpoints (ServiceEntry
    /// `endpoints[].weight`, Envoy's `load_balancing_weight`); 1 unless set.
    #[serde(skip_serializing_if = "is_one")]
    pub weight: u32,
    /// Where it runs, `region/zone/subzone` (ServiceEntry `endpoints[].locality`), for
    /// locality-aware balancing; `None` unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<Arc<str>>,
}

fn is_one(weight: &u32) -> bool {
    *weight == 1
}

/// Which namespaces a resource is exported to (`exportTo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// `*` or absent.
    All,
    /// `.` and named namespaces.
    Namespaces(Vec<String>),
}

impl Visibility {
    /// From `exportTo` of a resource in `namespace`.
    pub fn from_export_to(export_to: &[String], namespace: &str) -> Self {
        if export_to.is_empty() || export_to.iter().any(|n| n == "*") {
            return Self::All;
        }
        let resolve = |n: &String| {
            if n == "." {
                namespace.to_string()
            } else {
                n.clone()
            }
        };
        Self::Namespaces(export_to.iter().map(resolve).collect())
    }

    /// Whether a client in `namespace` sees the resource.
    pub fn includes(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Namespaces(list) => list.iter().any(|n| n == namespace),
        }
    }
}

/// A service port, optionally one subset of it: its endpoints and merged traffic policy.
#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    /// Envoy's name: `outbound|PORT|SUBSET|HOST`.
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub subset: Option<String>,
    /// Endpoint address and target port.
    pub endpoints: Vec<(Address, u16)>,
    /// Each endpoint's weight, in the order of `endpoints`; empty when they all weigh the same
    /// (the balancers then spread evenly).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<u32>,
    /// Each endpoint's locality (`region/zone/subzone`, empty unknown), in the order of
    /// `endpoints`; empty when none has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub localities: Vec<Arc<str>>,
    /// Top level, port level and subset merged; `portLevelSettings` emptied.
    pub policy: TrafficPolicy,
    /// The namespace of the DestinationRule it comes from (where its `credentialName` is read).
    pub rule_namespace: Option<String>,
    /// Its resilience policies, compiled on first use (`resilience/compiled.rs`).
    #[serde(skip)]
    pub resilience: Memo,
}

/// The rules of one VirtualService for one host and port, in the VirtualService's order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RouteTable {
    /// `namespace/name` of the VirtualService.
    pub virtual_service: String,
    pub http: Vec<HttpRoute>,
    pub tcp: Vec<TcpRoute>,
    pub tls: Vec<TlsRoute>,
    /// The `http` rules' retry policies, compiled on first use (`resilience/compiled.rs`).
    #[serde(skip)]
    pub retries: Memo,
}

/// A pod as telemetry and policy name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub pod_name: String,
    pub app: Option<String>,
    pub version: Option<String>,
    pub service_account: Option<String>,
    pub labels: Arc<Labels>,
    /// Its SPIFFE identity, `spiffe://<trust domain>/ns/NS/sa/SA` (see [`spiffe_id`]), when the
    /// pod is in the registry; `None` for a pod known only by name (telemetry says `unknown`).
    pub principal: Option<String>,
    /// Whether the pod is in the mesh (its labels and its Namespace's, as Istio decides):
    /// connections to it go through the tunnel.
    pub meshed: bool,
    /// What the Telemetry resources say this workload's side of a hop records.
    pub telemetry: super::TelemetryPolicy,
    /// Its cap annotations (`mesh.io/max-*`); unset ones take the agent's flags.
    pub limits: crate::resources::pod_limits::PodLimits,
}

/// The SPIFFE identity Istio gives a pod running as service account `service_account`
/// (`default` when the pod names none) in `namespace`.
///
/// There is no mTLS between agents yet, so no peer proves this identity: the agent knows both
/// ends of every connection from its own registry (pod IP → pod → serviceAccountName) and reports
/// the principals Istio would have read from the peer certificates.
pub fn spiffe_id(trust_domain: &str, namespace: &str, service_account: Option<&str>) -> String {
    let account = service_account
        .filter(|a| !a.is_empty())
        .unwrap_or("default");
    format!("spiffe://{trust_domain}/ns/{namespace}/sa/{account}")
}
