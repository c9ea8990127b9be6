//! A ServiceEntry as Istio's `ValidateServiceEntry` reads it: hosts (not `*`, no partial
//! wildcards), addresses (IPs or CIDR blocks, the latter only without DNS resolution), ports
//! (named, each name and number once, known protocols), `workloadSelector` or `endpoints`, not
//! both; endpoints as the resolution allows them (none for NONE, IP addresses for STATIC, IPs
//! or FQDNs for DNS; at most one for DNS_ROUND_ROBIN); several hosts only with HTTP or TLS ports.

use std::collections::HashSet;
use std::net::IpAddr;

use super::export_to::export_to;
use super::finding::Findings;
use super::labels::label_map;
use super::names::{
    fqdn, ip_subnet, is_http, is_protocol, is_tls, partial_wildcard, port_name, wildcard_domain,
};
use crate::resources::{Resolution, ServiceEntrySpec, WorkloadEntry};

/// Problems of the ServiceEntry `spec` in `namespace`.
pub(crate) fn service_entry(found: &mut Findings, spec: &ServiceEntrySpec, namespace: &str) {
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    selector(found, spec, resolution);
    hosts(found, spec);
    let mut cidr = false;
    for (i, address) in spec.addresses.iter().enumerate() {
        cidr |= address.contains('/');
        found.error_if(format!("spec.addresses[{i}]"), ip_subnet(address));
    }
    if cidr && !matches!(resolution, Resolution::None | Resolution::Static) {
        found.error(
            "spec.addresses",
            "CIDR addresses are allowed only with resolution NONE or STATIC",
        );
    }
    let port_names = ports(found, spec, resolution);
    match resolution {
        Resolution::None if !spec.endpoints.is_empty() => {
            found.error("spec.endpoints", "resolution NONE takes no endpoints");
        }
        Resolution::None => {}
        Resolution::Static => endpoints(found, spec, &port_names, false),
        Resolution::Dns | Resolution::DnsRoundRobin => dns(found, spec, resolution, &port_names),
    }
    let l4_port = spec
        .ports
        .iter()
        .any(|p| !is_http(&p.protocol) && !is_tls(&p.protocol));
    if resolution != Resolution::None && spec.hosts.len() > 1 && l4_port {
        found.error(
            "spec.hosts",
            "several hosts need HTTP or TLS ports (a TCP port cannot tell them apart)",
        );
    }
    export_to(found, "spec.exportTo", namespace, &spec.export_to, true);
}

fn selector(found: &mut Findings, spec: &ServiceEntrySpec, resolution: Resolution) {
    let Some(selector) = &spec.workload_selector else {
        return;
    };
    super::labels::selector_labels(found, "spec.workloadSelector.labels", &selector.labels);
    if !spec.endpoints.is_empty() {
        found.error(
            "spec.workloadSelector",
            "set only one of workloadSelector or endpoints",
        );
    }
    if resolution != Resolution::Static {
        found.warning(
            "spec.workloadSelector",
            format!("workloadSelector should not be set with resolution {resolution:?}"),
        );
    }
}

fn hosts(found: &mut Findings, spec: &ServiceEntrySpec) {
    if spec.hosts.is_empty() {
        found.error("spec.hosts", "a service entry must have at least one host");
    }
    for (i, host) in spec.hosts.iter().enumerate() {
        let field = format!("spec.hosts[{i}]");
        if host == "*" {
            found.error(field, "host * is not allowed in a ServiceEntry");
            continue;
        }
        found.error_if(field.clone(), wildcard_domain(host));
        if let Err(message) = partial_wildcard(host) {
            found.warning(field, message);
        }
    }
}

/// Checks the ports; the names of the entry's ports.
fn ports(found: &mut Findings, spec: &ServiceEntrySpec, resolution: Resolution) -> HashSet<String> {
    let (mut names, mut numbers) = (HashSet::new(), HashSet::new());
    for (i, port) in spec.ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        if !names.insert(port.name.clone()) {
            found.error(
                format!("{at}.name"),
                format!("port name {:?} already defined", port.name),
            );
        }
        if !numbers.insert(port.number) {
            found.error(
                format!("{at}.number"),
                format!("port {} already defined", port.number),
            );
        }
        if port.target_port.is_some() && resolution == Resolution::None {
            found.warning(
                format!("{at}.targetPort"),
                "targetPort has no effect with resolution NONE",
            );
        }
        found.error_if(format!("{at}.name"), port_name(&port.name));
        if !port.protocol.is_empty() && !is_protocol(&port.protocol) {
            found.error(
                format!("{at}.protocol"),
                format!("unsupported protocol: {:?}", port.protocol),
            );
        }
    }
    names
}

fn dns(
    found: &mut Findings,
    spec: &ServiceEntrySpec,
    resolution: Resolution,
    ports: &HashSet<String>,
) {
    if spec.endpoints.is_empty() {
        for (i, host) in spec
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| fqdn(h).is_err())
        {
            let message = format!("{host:?} is not an FQDN: DNS resolution without endpoints resolves the hosts themselves");
            found.error(format!("spec.hosts[{i}]"), message);
        }
    }
    if resolution == Resolution::DnsRoundRobin && spec.endpoints.len() > 1 {
        found.error(
            "spec.endpoints",
            "resolution DNS_ROUND_ROBIN takes at most one endpoint",
        );
    }
    endpoints(found, spec, ports, true);
}

fn endpoints(found: &mut Findings, spec: &ServiceEntrySpec, ports: &HashSet<String>, dns: bool) {
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        let at = format!("spec.endpoints[{i}]");
        address(found, &at, endpoint, dns);
        for name in endpoint.ports.keys() {
            let field = format!("{at}.ports.{name}");
            if !ports.contains(name) {
                found.error(
                    field.clone(),
                    format!("endpoint port {name:?} is not a port of the service entry"),
                );
            }
            found.error_if(field, port_name(name));
        }
        label_map(found, &format!("{at}.labels"), &endpoint.labels);
    }
}

fn address(found: &mut Findings, at: &str, endpoint: &WorkloadEntry, dns: bool) {
    let (address, field) = (endpoint.address.as_str(), format!("{at}.address"));
    match address {
        "" if endpoint.network.is_some() => found.warning(
            field,
            "address is unset (reached through its network's gateway)",
        ),
        "" => found.error(field, "address is required"),
        _ if address.starts_with("unix://") => found.error(
            field,
            "unix domain socket endpoints are not supported by the mesh",
        ),
        _ if address.parse::<IpAddr>().is_ok() => {}
        _ if dns && fqdn(address).is_ok() => {}
        _ if dns => found.error(
            field,
            format!("endpoint address {address:?} is not a valid FQDN or an IP address"),
        ),
        _ => found.error(
            field,
            format!("endpoint address {address:?} is not a valid IP address"),
        ),
    }
}

#[cfg(test)]
#[path = "service_entry_tests.rs"]
mod tests;
