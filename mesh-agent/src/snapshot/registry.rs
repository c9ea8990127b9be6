//! The service registry: Kubernetes Services and ServiceEntry hosts, found by any spelling of
//! their hostname (`name`, `name.ns`, `name.ns.svc`, FQDN) and by ClusterIP:port.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service as KubeService, ServicePort as KubePort};

use super::model::{Address, Endpoint, Protocol, Service, ServicePort, Visibility};
use crate::resources::{Istio, Location, Resolution, ServiceEntrySpec};

/// The cluster's domain suffix.
pub const CLUSTER_DOMAIN: &str = "svc.cluster.local";

/// The registry's indexes: hashed with foldhash (rebuilt on every configuration change and
/// looked up on every connection; their keys come from the configuration, not from clients).
type Index<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Every service, indexed by hostname spelling and by address.
#[derive(Debug, Default, serde::Serialize)]
pub struct Registry {
    pub(crate) services: Vec<Arc<Service>>,
    #[serde(skip)]
    by_host: Index<String, usize>,
    #[serde(skip)]
    by_address: Index<SocketAddr, (usize, usize)>,
    /// Endpoint IP:target port → the service port it serves (the first service inserted wins).
    #[serde(skip)]
    by_endpoint: Index<SocketAddr, (usize, usize)>,
}

impl Registry {
    /// An empty registry with room for `services` Kubernetes Services.
    pub(crate) fn with_capacity(services: usize) -> Self {
        let mut registry = Self::default();
        registry.services.reserve(services);
        registry.by_host.reserve(services * 3);
        registry.by_address.reserve(services);
        registry
    }

    /// The service `host` names, resolved as a client in `namespace` would (short names in
    /// `namespace`).
    pub fn lookup(&self, host: &str, namespace: &str) -> Option<&Service> {
        self.lookup_shared(host, namespace).map(|s| s.as_ref())
    }

    /// Like [`lookup`](Self::lookup), the shared service (the route layer keeps it).
    pub fn lookup_shared(&self, host: &str, namespace: &str) -> Option<&Arc<Service>> {
        let index = match self.by_host.get(host) {
            Some(index) => Some(index),
            None if !host.contains('.') => self
                .by_host
                .get(&format!("{host}.{namespace}.{CLUSTER_DOMAIN}")),
            None => None,
        };
        index.map(|i| &self.services[*i])
    }

    /// The service and port at a ClusterIP:port (or ServiceEntry address:port).
    pub fn at(&self, addr: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        self.port_of(self.by_address.get(&addr)?)
    }

    /// The service and port an endpoint (pod IP:target port) serves, for inbound telemetry. When
    /// several do, the first by namespace/name.
    pub fn serving(&self, endpoint: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        self.port_of(self.by_endpoint.get(&endpoint)?)
    }

    fn port_of(&self, (service, port): &(usize, usize)) -> Option<(&Arc<Service>, &ServicePort)> {
        let service = &self.services[*service];
        Some((service, &service.ports[*port]))
    }

    /// The canonical hostname for `host` written in a resource of `namespace`: the registry's
    /// hostname when known, a short name expanded in `namespace`, else `host` itself.
    pub fn canonical(&self, host: &str, namespace: &str) -> String {
        match self.lookup(host, namespace) {
            Some(service) => service.hostname.clone(),
            None if !host.contains('.') && host != "*" => {
                format!("{host}.{namespace}.{CLUSTER_DOMAIN}")
            }
            None => host.to_string(),
        }
    }

    /// Every service.
    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// Adds a compiled Kubernetes Service (see [`kube_service`]), known also as `name.ns` and
    /// `name.ns.svc`.
    pub(crate) fn add_service(&mut self, service: Arc<Service>) {
        let aliases = [
            format!("{}.{}", service.name, service.namespace),
            format!("{}.{}.svc", service.name, service.namespace),
        ];
        self.insert(service, &aliases);
    }

    /// Adds one host of a ServiceEntry. A host already in the registry is left as it was.
    pub(crate) fn add_entry_host(&mut self, entry: &Istio<ServiceEntrySpec>, host: &str) {
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
        self.insert(
            Arc::new(Service {
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
                external: spec.location != Some(Location::MeshInternal),
            }),
            &[],
        );
    }

    fn insert(&mut self, service: Arc<Service>, aliases: &[String]) {
        if self.by_host.contains_key(&service.hostname) {
            return;
        }
        let index = self.services.len();
        for (p, port) in service.ports.iter().enumerate() {
            for ip in &service.addresses {
                self.by_address
                    .insert(SocketAddr::new(*ip, port.port), (index, p));
            }
        }
        self.index_endpoints(&service, index);
        self.by_host.insert(service.hostname.clone(), index);
        for alias in aliases {
            self.by_host.entry(alias.clone()).or_insert(index);
        }
        self.services.push(service);
    }

    fn index_endpoints(&mut self, service: &Service, index: usize) {
        for endpoint in &service.endpoints {
            let Address::Ip(ip) = endpoint.address else {
                continue;
            };
            for (p, port) in service.ports.iter().enumerate() {
                if let Some(target) = endpoint.ports.get(&port.port) {
                    let key = SocketAddr::new(ip, *target);
                    self.by_endpoint.entry(key).or_insert((index, p));
                }
            }
        }
    }
}

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
