//! Services as the registry holds them, compiled from their sources: a Kubernetes Service (ports
//! and protocols, ClusterIPs, endpoints in a stable order) or one host of a ServiceEntry.

use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service as KubeService, ServicePort as KubePort};

use super::model::{Address, Endpoint, Protocol, Service, ServicePort, Visibility};
use super::registry::CLUSTER_DOMAIN;
use crate::resources::{Istio, Location, Resolution, ServiceEntrySpec};

/// A Kubernetes Service with its endpoints (sorted by address, so that the order does not
/// depend on how the resources were read and round robin keeps its place on reload).
pub(crate) fn kube_service(service: &KubeService, mut endpoints: Vec<Endpoint>) -> Service {
    endpoints.sort_by_key(|e| match e.address {
        Address::Ip(ip) => Some(ip),
        Address::Dns(_) => None,
    });
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.clone().unwrap_or_default();
    let hostname = hostname_of(service);
    let spec = service.spec.as_ref();
    let mut addresses: Vec<IpAddr> = spec
        .and_then(|s| s.cluster_ips.as_ref())
        .into_iter()
        .flatten()
        .chain(spec.and_then(|s| s.cluster_ip.as_ref()))
        .filter_map(|ip| ip.parse().ok())
        .collect();
    addresses.sort();
    addresses.dedup();
    let ports = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"));
    Service {
        hostname,
        namespace: namespace.to_string(),
        name,
        addresses,
        ports: ports.map(kube_port).collect(),
        endpoints,
        other_family_endpoints: Vec::new(),
        external: false,
        visibility: Visibility::All,
    }
}

/// `name.namespace.svc.cluster.local` of a Kubernetes Service.
pub(crate) fn hostname_of(service: &KubeService) -> String {
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or_default();
    format!("{name}.{namespace}.{CLUSTER_DOMAIN}")
}

fn kube_port(port: &KubePort) -> ServicePort {
    let name = port.name.clone().unwrap_or_default();
    let declared = port.app_protocol.as_deref().and_then(protocol_named);
    let by_name = name.split('-').next().and_then(protocol_named);
    ServicePort {
        port: port.port as u16,
        protocol: declared.or(by_name).unwrap_or(Protocol::Unknown),
        name,
    }
}

/// The protocol a port name prefix or `appProtocol` declares (Istio's spellings).
pub fn protocol_named(name: &str) -> Option<Protocol> {
    Some(match name.to_ascii_lowercase().as_str() {
        "http" | "http1" => Protocol::Http,
        "http2" | "h2c" | "kubernetes.io/h2c" => Protocol::Http2,
        "grpc" | "grpc-web" => Protocol::Grpc,
        "https" => Protocol::Https,
        "tls" => Protocol::Tls,
        "tcp" | "mongo" | "mysql" | "redis" => Protocol::Tcp,
        _ => return None,
    })
}

/// One host of a ServiceEntry as a service: its ports, addresses and endpoints.
pub(crate) fn entry_service(entry: &Istio<ServiceEntrySpec>, host: &str) -> Service {
    let namespace = entry
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let spec = &entry.spec;
    let ports: Vec<ServicePort> = spec
        .ports
        .iter()
        .map(|p| ServicePort {
            port: p.number,
            name: p.name.clone(),
            protocol: protocol_named(&p.protocol).unwrap_or(Protocol::Unknown),
        })
        .collect();
    let endpoints = entry_endpoints(spec, host, &ports);
    Service {
        hostname: host.to_string(),
        visibility: Visibility::from_export_to(&spec.export_to, &namespace),
        namespace,
        name: entry.metadata.name.clone().unwrap_or_default(),
        addresses: spec
            .addresses
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect(),
        ports,
        endpoints,
        other_family_endpoints: Vec::new(),
        external: spec.location != Some(Location::MeshInternal),
    }
}

/// A ServiceEntry's endpoints: those listed, else (DNS resolution) the host itself.
fn entry_endpoints(spec: &ServiceEntrySpec, host: &str, ports: &[ServicePort]) -> Vec<Endpoint> {
    let same_ports = || Arc::new(ports.iter().map(|p| (p.port, p.port)).collect());
    if spec.endpoints.is_empty() {
        let dns = matches!(
            spec.resolution,
            Some(Resolution::Dns | Resolution::DnsRoundRobin)
        );
        if dns && !host.starts_with('*') {
            return vec![Endpoint {
                address: Address::Dns(host.into()),
                ports: same_ports(),
                labels: Default::default(),
                pod: None,
            }];
        }
        return Vec::new();
    }
    spec.endpoints
        .iter()
        .map(|e| {
            let address = e
                .address
                .parse()
                .map(Address::Ip)
                .unwrap_or_else(|_| Address::Dns(e.address.clone()));
            let ports = ports
                .iter()
                .map(|p| (p.port, e.ports.get(&p.name).copied().unwrap_or(p.port)));
            let ports = Arc::new(ports.collect());
            Endpoint {
                address,
                ports,
                labels: Arc::new(e.labels.clone()),
                pod: None,
            }
        })
        .collect()
}
