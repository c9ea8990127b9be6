//! Where an outbound connection or request goes, as Istio's sidecars decide it: a service of
//! the registry the client may reach — by the address dialled (ClusterIP, ServiceEntry address,
//! CIDR or resolved IP, a Service's backend), else by the HTTP Host or TLS SNI it names — or,
//! for any other destination, `PassthroughCluster` under ALLOW_ANY and `BlackHoleCluster`
//! under REGISTRY_ONLY. Which services a client may reach: those exported to its namespace
//! and, when a namespace-wide `Sidecar` lists `egress.hosts`, those it lists.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;

use super::model::{Address, Service, ServicePort, Visibility};
use super::Snapshot;
use crate::resources::OutboundMode;

/// The decision.
#[derive(Clone, Copy, Debug)]
pub enum Egress<'s> {
    /// A service port of the registry.
    Service(&'s Arc<Service>, &'s ServicePort),
    /// Not in the registry, ALLOW_ANY: to the address dialled.
    Passthrough,
    /// Not in the registry, REGISTRY_ONLY: refused.
    BlackHole,
}

/// Envoy's names for the two clusters that are not services.
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
pub const BLACK_HOLE_CLUSTER: &str = "BlackHoleCluster";

/// `PassthroughCluster` or `BlackHoleCluster` as a service, for telemetry to name.
pub fn pseudo_service(name: &'static str) -> Arc<Service> {
    static PASSTHROUGH: LazyLock<Arc<Service>> = LazyLock::new(|| pseudo(PASSTHROUGH_CLUSTER));
    static BLACK_HOLE: LazyLock<Arc<Service>> = LazyLock::new(|| pseudo(BLACK_HOLE_CLUSTER));
    match name {
        BLACK_HOLE_CLUSTER => BLACK_HOLE.clone(),
        _ => PASSTHROUGH.clone(),
    }
}

fn pseudo(name: &str) -> Arc<Service> {
    Arc::new(Service {
        hostname: name.into(),
        namespace: "unknown".into(),
        name: name.into(),
        addresses: Vec::new(),
        ports: Vec::new(),
        endpoints: Vec::new(),
        other_family_endpoints: Vec::new(),
        cidrs: Vec::new(),
        dns_names: Vec::new(),
        passthrough: true,
        external: true,
        from_entry: false,
        visibility: Visibility::All,
    })
}

impl Snapshot {
    /// Where a client in `namespace` reaches by dialling `dst`, naming `host` (an HTTP
    /// authority, port allowed, or a TLS SNI) when it names one: the Kubernetes Service at the
    /// address (a ClusterIP, or a backend of one); else, as Envoy picks a virtual host, the
    /// service `host` names on that port; else the ServiceEntry at the address, unless `host`
    /// names something else (neither one of its hosts nor an address).
    pub fn egress(&self, dst: SocketAddr, host: Option<&str>, namespace: &str) -> Egress<'_> {
        let name = host.map(without_port);
        let named = || name.and_then(|n| self.registry.named_at(n, dst.port(), namespace));
        let other_name = name.is_some_and(|n| n.parse::<std::net::IpAddr>().is_err());
        let found = match self.outbound_service_named(dst, host, namespace) {
            Some(service) if !service.0.from_entry => Some(service),
            Some(entry) => named().or_else(|| (!other_name).then_some(entry)),
            None => named(),
        };
        match found.filter(|(s, _)| self.reachable(s, namespace)) {
            Some((service, port)) => Egress::Service(service, port),
            None if self.outbound_mode(namespace) == OutboundMode::RegistryOnly => {
                Egress::BlackHole
            }
            None => Egress::Passthrough,
        }
    }

    /// Whether a client in `namespace` may reach `service`: exported there, and listed by the
    /// namespace's Sidecar `egress.hosts` when it has one.
    pub fn reachable(&self, service: &Service, namespace: &str) -> bool {
        if !service.visibility.includes(namespace) {
            return false;
        }
        let Some(hosts) = self.sidecar_hosts.get(namespace) else {
            return true;
        };
        hosts
            .iter()
            .any(|listed| sidecar_lists(listed, service, namespace))
    }
}

/// Whether a Sidecar `egress.hosts` entry (`ns/host`, `./host`, `*/host`, `~/host`; the host
/// `*`, `*.suffix` or a hostname) of `namespace` lists `service`.
fn sidecar_lists(listed: &str, service: &Service, namespace: &str) -> bool {
    let (ns, host) = listed.split_once('/').unwrap_or(("*", listed));
    let ns_ok = match ns {
        "*" => true,
        "~" => false,
        "." => service.namespace == namespace,
        other => service.namespace == other,
    };
    let hostname = service.hostname.as_str();
    let host_ok = match host.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => hostname.ends_with(suffix),
        None => hostname.eq_ignore_ascii_case(host),
    };
    ns_ok && host_ok
}

/// `host` without a `:port` (`[v6]:port` → `v6`; a bare IPv6 address stays whole).
fn without_port(host: &str) -> &str {
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

impl Snapshot {
    /// The addresses a REGISTRY_ONLY client in `namespace` may connect to at all — every pod,
    /// and each service it may reach: ClusterIPs, ServiceEntry addresses and CIDRs, endpoint
    /// and resolved addresses — for the `connect()` hook to refuse the rest. `None` when
    /// nothing can be refused there: ALLOW_ANY, or a reachable host that could be at any
    /// address (resolution NONE without addresses, a DNS name not resolved yet).
    pub fn egress_allowed(&self, namespace: &str) -> Option<Vec<IpNet>> {
        if self.outbound_mode(namespace) != OutboundMode::RegistryOnly {
            return None;
        }
        let mut allowed: Vec<IpNet> = self.workloads.keys().map(|ip| IpNet::from(*ip)).collect();
        let reachable = self.registry.services().iter();
        for service in reachable.filter(|s| self.reachable(s, namespace)) {
            let anywhere =
                service.passthrough && service.addresses.is_empty() && service.cidrs.is_empty();
            let endpoints = service
                .endpoints
                .iter()
                .chain(&service.other_family_endpoints);
            let mut ips = Vec::new();
            for endpoint in endpoints {
                match endpoint.address {
                    Address::Ip(ip) => ips.push(IpNet::from(ip)),
                    Address::Dns(_) => return None,
                }
            }
            if anywhere {
                return None;
            }
            allowed.extend(service.addresses.iter().map(|ip| IpNet::from(*ip)));
            allowed.extend(service.cidrs.iter().copied());
            allowed.extend(ips);
        }
        allowed.sort();
        allowed.dedup();
        Some(allowed)
    }
}
