//! Services as the registry holds them, compiled from their sources: a Kubernetes Service (ports
//! and protocols, ClusterIPs, endpoints in a stable order) or one host of a ServiceEntry.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Service as KubeService, ServicePort as KubePort};

use super::model::{Address, Endpoint, Labels, Protocol, Service, ServicePort, Visibility};
use super::registry::CLUSTER_DOMAIN;
use super::resolved::ResolvedNames;
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
        cidrs: Vec::new(),
        dns_names: Vec::new(),
        passthrough: false,
        external: false,
        from_entry: false,
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

/// What a ServiceEntry's endpoints come from besides the entry.
pub(crate) struct EntryInputs<'a> {
    /// The agent's answers for DNS names.
    pub names: &'a ResolvedNames,
    /// The pods its `workloadSelector` selects (name, IP, labels), when it has one.
    pub pods: Option<&'a [(String, IpAddr, Arc<Labels>)]>,
}

/// One host of a ServiceEntry as a service: its ports, addresses (single IPs and CIDRs) and
/// endpoints — the pods its `workloadSelector` selects, else those listed or its host — DNS
/// names replaced by what the agent resolved them to.
pub(crate) fn entry_service(
    entry: &Istio<ServiceEntrySpec>,
    host: &str,
    inputs: &EntryInputs,
) -> Service {
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
    let listed = match inputs.pods {
        Some(pods) => selected_endpoints(spec, pods),
        None => entry_endpoints(spec, host),
    };
    let dns_names = listed.iter().filter_map(dns_name).collect();
    let round_robin = spec.resolution == Some(Resolution::DnsRoundRobin);
    let endpoints = resolved_endpoints(listed, inputs.names, round_robin);
    let (addresses, cidrs) = entry_addresses(&spec.addresses);
    Service {
        hostname: host.to_string(),
        visibility: Visibility::from_export_to(&spec.export_to, &namespace),
        namespace,
        // Istio's `destination_service_name` of a ServiceEntry host is the host.
        name: host.to_string(),
        addresses,
        cidrs,
        ports,
        endpoints,
        other_family_endpoints: Vec::new(),
        dns_names,
        passthrough: matches!(spec.resolution, None | Some(Resolution::None)),
        external: spec.location != Some(Location::MeshInternal),
        from_entry: true,
    }
}

/// ServiceEntry `addresses`: single IPs (also written `/32` or `/128`), and CIDRs.
fn entry_addresses(written: &[String]) -> (Vec<IpAddr>, Vec<IpNet>) {
    let (mut addresses, mut cidrs) = (Vec::new(), Vec::new());
    for address in written {
        if let Ok(ip) = address.parse::<IpAddr>() {
            addresses.push(ip);
        } else if let Ok(net) = address.parse::<IpNet>() {
            match net.prefix_len() == net.max_prefix_len() {
                true => addresses.push(net.addr()),
                false => cidrs.push(net.trunc()),
            }
        }
    }
    (addresses, cidrs)
}

fn dns_name(endpoint: &Endpoint) -> Option<String> {
    match &endpoint.address {
        Address::Dns(name) => Some(name.to_ascii_lowercase()),
        Address::Ip(_) => None,
    }
}

/// Each DNS endpoint as one endpoint per address its name resolved to (the first only for
/// `DNS_ROUND_ROBIN`, Envoy's LOGICAL_DNS), ports and labels kept; a name not resolved yet
/// stays a DNS endpoint (no connection can use it).
fn resolved_endpoints(
    listed: Vec<Endpoint>,
    names: &ResolvedNames,
    round_robin: bool,
) -> Vec<Endpoint> {
    let mut endpoints = Vec::with_capacity(listed.len());
    for endpoint in listed {
        let resolved = match &endpoint.address {
            Address::Dns(name) => names.get(name),
            Address::Ip(_) => None,
        };
        let Some(addresses) = resolved else {
            endpoints.push(endpoint);
            continue;
        };
        let take = if round_robin { 1 } else { addresses.len() };
        for ip in addresses.iter().take(take) {
            endpoints.push(Endpoint {
                address: Address::Ip(*ip),
                ..endpoint.clone()
            });
        }
    }
    endpoints
}

/// The pods a `workloadSelector` selects as endpoints, at each port's `targetPort` or number.
fn selected_endpoints(
    spec: &ServiceEntrySpec,
    pods: &[(String, IpAddr, Arc<Labels>)],
) -> Vec<Endpoint> {
    let ports = spec
        .ports
        .iter()
        .map(|p| (p.number, p.target_port.unwrap_or(p.number)));
    let ports = Arc::new(ports.collect());
    let endpoint = |(name, ip, labels): &(String, IpAddr, Arc<Labels>)| Endpoint {
        address: Address::Ip(*ip),
        ports: Arc::clone(&ports),
        labels: labels.clone(),
        pod: Some(name.clone()),
        weight: 1,
        locality: None,
    };
    pods.iter().map(endpoint).collect()
}

/// A ServiceEntry's endpoints: those listed (with their labels and weights), else (DNS
/// resolution) the host itself. Each port's target: the endpoint's port of that name, else the
/// port's `targetPort`, else its number.
fn entry_endpoints(spec: &ServiceEntrySpec, host: &str) -> Vec<Endpoint> {
    let target = |p: &crate::resources::Port, own: Option<u16>| {
        (p.number, own.or(p.target_port).unwrap_or(p.number))
    };
    if spec.endpoints.is_empty() {
        let dns = matches!(
            spec.resolution,
            Some(Resolution::Dns | Resolution::DnsRoundRobin)
        );
        if dns && !host.starts_with('*') {
            return vec![Endpoint {
                address: Address::Dns(host.into()),
                ports: Arc::new(spec.ports.iter().map(|p| target(p, None)).collect()),
                labels: Default::default(),
                pod: None,
                weight: 1,
                locality: None,
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
            let ports = spec.ports.iter();
            let ports = ports.map(|p| target(p, e.ports.get(&p.name).copied()));
            Endpoint {
                address,
                ports: Arc::new(ports.collect()),
                labels: Arc::new(e.labels.clone()),
                pod: None,
                // Istio reads an unset (0) weight as 1.
                weight: e.weight.filter(|w| *w > 0).unwrap_or(1),
                locality: e
                    .locality
                    .as_deref()
                    .filter(|l| !l.is_empty())
                    .map(Arc::from),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
