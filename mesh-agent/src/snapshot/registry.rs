//! The service registry: Kubernetes Services and ServiceEntry hosts, found by any spelling of
//! their hostname (`name`, `name.ns`, `name.ns.svc`, FQDN) and by ClusterIP:port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::model::{Address, Service, ServicePort};
use super::services::{entry_service, EntryInputs};
use crate::resources::{Istio, ServiceEntrySpec};

/// The cluster's domain suffix.
pub const CLUSTER_DOMAIN: &str = "svc.cluster.local";

/// The registry's indexes: hashed with foldhash (rebuilt on every configuration change and
/// looked up on every connection; their keys come from the configuration, not from clients).
type Index<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Every service, indexed by hostname spelling and by address.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Registry {
    pub(crate) services: Vec<Arc<Service>>,
    #[serde(skip)]
    by_host: Index<String, usize>,
    #[serde(skip)]
    by_address: Index<SocketAddr, (usize, usize)>,
    /// Endpoint IP:target port → every service port it serves, in the order the services were
    /// inserted (Kubernetes Services by namespace/name, then ServiceEntry hosts): the first
    /// answers [`serving`](Self::serving); the Kubernetes Services with a ClusterIP among them
    /// are where a socket load balancer (Cilium's) may have sent a ClusterIP
    /// ([`behind`](Self::behind)).
    #[serde(skip)]
    by_endpoint: Index<SocketAddr, Vec<(usize, usize)>>,
    /// ServiceEntry CIDR addresses with the service port, longest prefix first.
    #[serde(skip)]
    by_cidr: Vec<(IpNet, u16, (usize, usize))>,
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
        self.index_of(host, namespace).map(|i| &self.services[i])
    }

    fn index_of(&self, host: &str, namespace: &str) -> Option<usize> {
        match self.by_host.get(host) {
            Some(index) => Some(*index),
            None if !host.contains('.') => self
                .by_host
                .get(&format!("{host}.{namespace}.{CLUSTER_DOMAIN}"))
                .copied(),
            None => None,
        }
    }

    /// The service and port at a ClusterIP:port, a ServiceEntry address:port (one of its
    /// `addresses`, an address in one of its CIDRs, one of its endpoints' or resolved IPs).
    pub fn at(&self, addr: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        let found = self.by_address.get(&addr).or_else(|| {
            let mut cidrs = self.by_cidr.iter();
            let within =
                cidrs.find(|(net, port, _)| *port == addr.port() && net.contains(&addr.ip()));
            within.map(|(_, _, at)| at)
        })?;
        self.port_of(found)
    }

    /// The service and port an HTTP Host or TLS SNI `host` names on `port`, as a client in
    /// `namespace` sees it: the service of that hostname (any spelling), else the ServiceEntry
    /// whose wildcard host covers it, most specific first. Only a service with that port.
    pub fn named_at(
        &self,
        host: &str,
        port: u16,
        namespace: &str,
    ) -> Option<(&Arc<Service>, &ServicePort)> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let with_port = |index: usize| {
            let service = &self.services[index];
            let p = service.ports.iter().position(|p| p.port == port)?;
            service.visibility.includes(namespace).then_some((index, p))
        };
        if let Some(found) = self.index_of(&host, namespace).and_then(with_port) {
            return self.port_of(&found);
        }
        let mut rest = host.as_str();
        while let Some((_, suffix)) = rest.split_once('.') {
            let wildcard = self.by_host.get(&format!("*.{suffix}"));
            if let Some(found) = wildcard.and_then(|i| with_port(*i)) {
                return self.port_of(&found);
            }
            rest = suffix;
        }
        self.by_host
            .get("*")
            .and_then(|i| with_port(*i))
            .and_then(|f| self.port_of(&f))
    }

    /// The service and port an endpoint (pod IP:target port) serves, for inbound telemetry. When
    /// several do, the first by namespace/name.
    pub fn serving(&self, endpoint: SocketAddr) -> Option<(&Arc<Service>, &ServicePort)> {
        self.port_of(self.by_endpoint.get(&endpoint)?.first()?)
    }

    /// The Service port a connection to `backend` (a pod IP:target port) stands for, when a
    /// socket load balancer translated the ClusterIP before the mesh saw the connection: among
    /// the ClusterIP Services `backend` serves, the one `host` names (as a client in `namespace`
    /// would), else the first by namespace/name. Headless Services and ServiceEntries are left
    /// out: nothing translates to their endpoints, whose pods are dialled on purpose.
    pub fn behind(
        &self,
        backend: SocketAddr,
        host: Option<&str>,
        namespace: &str,
    ) -> Option<(&Arc<Service>, &ServicePort)> {
        let ports = self.by_endpoint.get(&backend)?;
        let mut translated = ports
            .iter()
            .filter(|(service, _)| self.has_cluster_ip(*service));
        let named = host.and_then(|h| self.by_host_name(h, namespace));
        let chosen = named
            .and_then(|n| translated.clone().find(|(service, _)| *service == n))
            .or_else(|| translated.next())?;
        self.port_of(chosen)
    }

    /// Whether service `index` is a Kubernetes Service with a ClusterIP.
    fn has_cluster_ip(&self, index: usize) -> bool {
        let service = &self.services[index];
        !service.from_entry && !service.addresses.is_empty()
    }

    /// The index of the service `host` (an HTTP authority, port allowed) names.
    fn by_host_name(&self, host: &str, namespace: &str) -> Option<usize> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        self.index_of(&name.to_ascii_lowercase(), namespace)
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

    /// Puts `service` in place of the Kubernetes Service `hostname` names, whose hostname,
    /// addresses and ports it keeps (only its endpoints changed): its endpoints are indexed
    /// again where it stood among the services, nothing else is touched. Whether it was there.
    pub(crate) fn replace_service(&mut self, service: Arc<Service>) -> bool {
        let Some(&index) = self.by_host.get(&service.hostname) else {
            return false;
        };
        let old = std::mem::replace(&mut self.services[index], service.clone());
        for (backend, _) in backends(&old) {
            if let Some(ports) = self.by_endpoint.get_mut(&backend) {
                ports.retain(|(s, _)| *s != index);
                if ports.is_empty() {
                    self.by_endpoint.remove(&backend);
                }
            }
        }
        for (backend, p) in backends(&service) {
            let ports = self.by_endpoint.entry(backend).or_default();
            if !ports.contains(&(index, p)) {
                let at = ports.iter().position(|(s, _)| *s > index);
                ports.insert(at.unwrap_or(ports.len()), (index, p));
            }
        }
        true
    }

    /// Adds one host of a ServiceEntry, its DNS endpoints as resolved, its selected pods. A host
    /// already in the registry is left as it was. Its CIDRs and its endpoints' addresses at its
    /// ports find it too, after every ClusterIP and `addresses` entry (TCP has nothing else to
    /// tell external hosts apart by).
    pub(crate) fn add_entry_host(
        &mut self,
        entry: &Istio<ServiceEntrySpec>,
        host: &str,
        inputs: &EntryInputs,
    ) {
        let index = self.services.len();
        if !self.insert(Arc::new(entry_service(entry, host, inputs)), &[]) {
            return;
        }
        let service = self.services[index].clone();
        for (p, port) in service.ports.iter().enumerate() {
            for net in &service.cidrs {
                self.by_cidr.push((*net, port.port, (index, p)));
            }
            for endpoint in &service.endpoints {
                if let Address::Ip(ip) = endpoint.address {
                    let at = SocketAddr::new(ip, port.port);
                    self.by_address.entry(at).or_insert((index, p));
                }
            }
        }
        self.by_cidr
            .sort_by_key(|(net, ..)| std::cmp::Reverse(net.prefix_len()));
    }

    /// Adds `service` unless its hostname is known already; whether it did.
    fn insert(&mut self, service: Arc<Service>, aliases: &[String]) -> bool {
        if self.by_host.contains_key(&service.hostname) {
            return false;
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
        true
    }

    fn index_endpoints(&mut self, service: &Service, index: usize) {
        for (backend, p) in backends(service) {
            let ports = self.by_endpoint.entry(backend).or_default();
            if !ports.contains(&(index, p)) {
                ports.push((index, p));
            }
        }
    }
}

/// Every endpoint address:target port of `service` (both families) with the index of the
/// Service port it serves.
fn backends(service: &Service) -> impl Iterator<Item = (SocketAddr, usize)> + '_ {
    let endpoints = service.endpoints.iter();
    endpoints
        .chain(&service.other_family_endpoints)
        .filter_map(|endpoint| match endpoint.address {
            Address::Ip(ip) => Some((endpoint, ip)),
            _ => None,
        })
        .flat_map(move |(endpoint, ip)| {
            let ports = service.ports.iter().enumerate();
            ports.filter_map(move |(p, port)| {
                let target = endpoint.ports.get(&port.port)?;
                Some((SocketAddr::new(ip, *target), p))
            })
        })
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
