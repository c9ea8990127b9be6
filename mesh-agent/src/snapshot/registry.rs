//! The service registry: Kubernetes Services and ServiceEntry hosts, found by any spelling of
//! their hostname (`name`, `name.ns`, `name.ns.svc`, FQDN) and by ClusterIP:port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::model::{Address, Service, ServicePort};
use super::services::entry_service;
use crate::resources::{Istio, ServiceEntrySpec};

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

    /// Adds a compiled Kubernetes Service (see [`kube_service`](super::services::kube_service)), known also as `name.ns` and
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
        self.insert(Arc::new(entry_service(entry, host)), &[]);
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
