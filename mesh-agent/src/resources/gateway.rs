//! `networking.istio.io` Gateway, ServiceEntry and Sidecar (only its outbound traffic policy
//! is used; the rest is accepted as is).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A load balancer at the edge of the mesh: which workloads, which ports and hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySpec {
    pub selector: BTreeMap<String, String>,
    pub servers: Vec<Server>,
}

/// One listening port of a gateway and the hosts it serves there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    pub port: Port,
    pub hosts: Vec<String>,
    pub tls: Option<ServerTls>,
    pub name: Option<String>,
    pub bind: Option<String>,
    pub default_endpoint: Option<String>,
}

/// A port with its protocol (`HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Port {
    pub number: u16,
    pub protocol: String,
    pub name: String,
    pub target_port: Option<u16>,
}

/// TLS on a gateway server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerTls {
    pub https_redirect: Option<bool>,
    pub mode: Option<ServerTlsMode>,
    pub server_certificate: Option<String>,
    pub private_key: Option<String>,
    pub ca_certificates: Option<String>,
    pub ca_crl: Option<String>,
    pub credential_name: Option<String>,
    pub subject_alt_names: Vec<String>,
    pub min_protocol_version: Option<String>,
    pub max_protocol_version: Option<String>,
    pub cipher_suites: Vec<String>,
}

/// Server TLS modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    Passthrough,
    Simple,
    Mutual,
    AutoPassthrough,
    IstioMutual,
    OptionalMutual,
}

/// Hosts added to the registry (typically outside the mesh).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntrySpec {
    pub hosts: Vec<String>,
    pub addresses: Vec<String>,
    pub ports: Vec<Port>,
    pub location: Option<Location>,
    pub resolution: Option<Resolution>,
    pub endpoints: Vec<WorkloadEntry>,
    pub workload_selector: Option<NetworkingSelector>,
    pub export_to: Vec<String>,
    pub subject_alt_names: Vec<String>,
}

/// Inside or outside the mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    MeshExternal,
    MeshInternal,
}

/// How the host's addresses are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    None,
    Static,
    Dns,
    DnsRoundRobin,
}

/// An endpoint listed in a ServiceEntry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadEntry {
    pub address: String,
    pub ports: BTreeMap<String, u16>,
    pub labels: BTreeMap<String, String>,
    pub network: Option<String>,
    pub locality: Option<String>,
    pub weight: Option<u32>,
    pub service_account: Option<String>,
}

/// `networking.istio.io`'s workload selector (`labels`, where security kinds say `matchLabels`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkingSelector {
    pub labels: BTreeMap<String, String>,
}

/// A Sidecar resource; the mesh reads its `outboundTrafficPolicy` (the rest is validated).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarSpec {
    pub workload_selector: Option<NetworkingSelector>,
    pub ingress: Vec<Value>,
    pub egress: Vec<EgressListener>,
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
    pub inbound_connection_pool: Option<Value>,
}

/// A Sidecar's egress listener: the hosts its workloads may reach (`namespace/host`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EgressListener {
    pub port: Option<SidecarPort>,
    pub bind: Option<String>,
    pub capture_mode: Option<String>,
    pub hosts: Vec<String>,
}

/// A Sidecar listener's port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarPort {
    pub number: u32,
    pub protocol: String,
    pub name: String,
    pub target_port: Option<u32>,
}

/// Whether hosts outside the registry may be reached.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutboundTrafficPolicy {
    pub mode: OutboundMode,
    pub egress_proxy: Option<super::Destination>,
}

/// `ALLOW_ANY` (Istio's default) or `REGISTRY_ONLY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundMode {
    #[default]
    AllowAny,
    RegistryOnly,
}
