//! Hosts and names as Istio's validation reads them (`pkg/config/validation/agent`,
//! `pkg/config/labels`): DNS-1123 labels (upper case allowed, as Istio allows it), FQDNs,
//! wildcard domains (`*` or `*.`, `*-` prefixes in the first label only), `namespace/host`
//! entries of Gateways and Sidecars, gateway references, IP addresses and CIDR blocks, port
//! names and protocols.

use std::net::IpAddr;

use super::finding::Findings;

/// The longest DNS label.
const LABEL_MAX: usize = 63;
/// The longest domain name.
const DOMAIN_MAX: usize = 255;

/// A DNS-1123 label: letters, digits and `-`, starting and ending with a letter or digit.
pub(crate) fn is_label(value: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= LABEL_MAX
        && alnum(value.chars().next())
        && alnum(value.chars().last())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A DNS-1123 label, `*`, or a label after a leading `*` or `*-`.
fn is_wildcard_label(value: &str) -> bool {
    if value == "*" {
        return true;
    }
    let rest = value
        .strip_prefix("*-")
        .or_else(|| value.strip_prefix('*'))
        .unwrap_or(value);
    value.len() <= LABEL_MAX && is_label(rest)
}

fn preconditions(name: &str) -> Result<(), String> {
    if name.len() > DOMAIN_MAX {
        return Err(format!("domain name {name:?} too long (max {DOMAIN_MAX})"));
    }
    if name.is_empty() {
        return Err("empty domain name not allowed".into());
    }
    Ok(())
}

/// Every label valid (the last may be empty: `istio.io.`), the top-level one not all digits.
fn labels_of(domain: &str) -> Result<(), String> {
    let parts: Vec<&str> = domain.split('.').collect();
    let top = parts[parts.len() - 1];
    if !top.is_empty() && top.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "domain name {domain:?} invalid (top level domain {top:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == parts.len() - 1 && label.is_empty() {
            break;
        }
        if !is_label(label) {
            return Err(format!(
                "domain name {domain:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    Ok(())
}

/// A fully qualified (or short) domain name without wildcards.
pub(crate) fn fqdn(name: &str) -> Result<(), String> {
    preconditions(name)?;
    labels_of(name)
}

/// A domain name whose first label may be a wildcard (`*`, `*.example.com`, `*-x.example`).
pub(crate) fn wildcard_domain(domain: &str) -> Result<(), String> {
    preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (domain, None),
    };
    if !is_wildcard_label(first) {
        return Err(format!(
            "domain name {domain:?} invalid (label {first:?} invalid)"
        ));
    }
    rest.map_or(Ok(()), labels_of)
}

/// `*` alone or a `*.` prefix; a wildcard anywhere else is partial.
pub(crate) fn partial_wildcard(host: &str) -> Result<(), String> {
    match host.contains('*') && host != "*" && !host.starts_with("*.") {
        true => Err(format!("partial wildcard {host:?} not allowed")),
        false => Ok(()),
    }
}

/// The host part of a Gateway's or Sidecar's `namespace/host`: no short names, no partial
/// wildcards; a Gateway also takes an IP address.
fn host_part(host: &str, gateway: bool) -> Result<(), String> {
    if host != "*" && !host.contains('.') {
        return Err(format!("short names (non FQDN) are not allowed: {host:?}"));
    }
    if let Err(error) = wildcard_domain(host) {
        if !gateway || host.parse::<IpAddr>().is_err() {
            return Err(error);
        }
    }
    partial_wildcard(host)
}

/// A Gateway server's or Sidecar egress host: `namespace/host` (`*`, `.` or a namespace; `~`
/// too in a Sidecar); a Gateway also takes a plain host.
pub(crate) fn namespace_slash_host(entry: &str, gateway: bool) -> Result<(), String> {
    let Some((namespace, host)) = entry.split_once('/') else {
        return match gateway {
            true => host_part(entry, true),
            false => Err(format!("host {entry:?} must be of form namespace/dnsName")),
        };
    };
    if namespace.is_empty() || host.is_empty() {
        return Err("config namespace and dnsName in host entry cannot be empty".into());
    }
    let special = ["*", "."].contains(&namespace) || (!gateway && namespace == "~");
    if !special && !is_label(namespace) {
        let kind = if gateway { "gateway" } else { "sidecar" };
        return Err(format!("invalid namespace value {namespace:?} in {kind}"));
    }
    host_part(host, gateway)
}

/// An IP address.
pub(crate) fn ip_address(address: &str) -> Result<(), String> {
    match address.parse::<IpAddr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{address} is not a valid IP")),
    }
}

/// Whether `block` is `address/length` with a length the address family allows.
pub(crate) fn is_cidr(block: &str) -> bool {
    let Some((address, length)) = block.split_once('/') else {
        return false;
    };
    let bits = match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => 32,
        Ok(IpAddr::V6(_)) => 128,
        Err(_) => return false,
    };
    let digits =
        !length.is_empty() && length.len() <= 3 && length.bytes().all(|b| b.is_ascii_digit());
    digits && length.parse::<u32>().is_ok_and(|l| l <= bits)
}

/// An IP address, or a CIDR block when it has one `/`.
pub(crate) fn ip_subnet(subnet: &str) -> Result<(), String> {
    match subnet.matches('/').count() {
        1 if is_cidr(subnet) => Ok(()),
        1 => Err(format!("{subnet} is not a valid CIDR block")),
        _ => ip_address(subnet),
    }
}

/// A port name: a DNS-1123 label.
pub(crate) fn port_name(name: &str) -> Result<(), String> {
    match is_label(name) {
        true => Ok(()),
        false => Err(format!("invalid port name: {name:?}")),
    }
}

/// The protocols Istio knows (`protocol.Parse`), in any case.
const PROTOCOLS: [&str; 12] = [
    "TCP",
    "UDP",
    "GRPC",
    "GRPC-WEB",
    "HTTP",
    "HTTP_PROXY",
    "HTTP2",
    "HTTPS",
    "TLS",
    "MONGO",
    "REDIS",
    "MYSQL",
];

/// Whether `protocol` is one Istio knows.
pub(crate) fn is_protocol(protocol: &str) -> bool {
    PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(protocol))
}

/// Whether `protocol` carries HTTP (Istio's `IsHTTP`).
pub(crate) fn is_http(protocol: &str) -> bool {
    ["HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(protocol))
}

/// Whether `protocol` is TLS-wrapped (Istio's `IsTLS`).
pub(crate) fn is_tls(protocol: &str) -> bool {
    ["HTTPS", "TLS"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(protocol))
}

/// Whether `host` is `of` or one of the names its wildcard covers (Istio's `SubsetOf`).
pub(crate) fn is_subset(host: &str, of: &str) -> bool {
    host == of
        || of == "*"
        || (of.starts_with('*') && host.ends_with(&of[1..]) && host.len() > of.len() - 1)
}

/// Gateway references: `namespace/name`, `name`, or the reserved `mesh`.
pub(crate) fn gateway_names(found: &mut Findings, at: &str, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        let field = format!("{at}[{i}]");
        let Some((namespace, gateway)) = name.split_once('/') else {
            if let Some((short, ns)) = name.split_once('.') {
                let message = format!(
                    "legacy gateway name {name:?}; prefer namespace/name: \"{ns}/{short}\""
                );
                found.warning(field.clone(), message);
            }
            found.error_if(
                field,
                fqdn(name).map_err(|e| format!("invalid gateway name: {e}")),
            );
            continue;
        };
        if namespace.is_empty() || gateway.is_empty() {
            found.error(field, "config namespace and gateway name cannot be empty");
        } else if !is_label(namespace) {
            found.error(field, format!("invalid value for namespace: {namespace:?}"));
        } else if !is_label(gateway) {
            found.error(
                field,
                format!("invalid value for gateway name: {gateway:?}"),
            );
        }
    }
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
