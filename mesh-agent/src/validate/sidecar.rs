//! A Sidecar as Istio's `ValidateSidecar` reads it: not empty; a workload selector without
//! wildcards; egress listeners with `namespace/host` hosts (`*`, `.`, `~` or a namespace; no
//! short names, no partial wildcards), one catch-all listener without a port and last, ports
//! unique, known protocols, IP binds; an egress proxy only with `ALLOW_ANY`.

use std::collections::HashSet;

use super::destinations::destination;
use super::finding::Findings;
use super::labels::selector_labels;
use super::names::{fqdn, ip_address, is_protocol, namespace_slash_host, port_name};
use crate::resources::{EgressListener, OutboundMode, SidecarSpec};

/// Problems of the Sidecar `spec`.
pub(crate) fn sidecar(found: &mut Findings, spec: &SidecarSpec) {
    if let Some(selector) = &spec.workload_selector {
        selector_labels(found, "spec.workloadSelector.labels", &selector.labels);
    }
    let empty = spec.egress.is_empty()
        && spec.ingress.is_empty()
        && spec.outbound_traffic_policy.is_none()
        && spec.inbound_connection_pool.is_none();
    if empty {
        found.error(
            "spec",
            "empty Sidecar: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool",
        );
    }
    let mut numbers = HashSet::new();
    for (i, egress) in spec.egress.iter().enumerate() {
        let at = format!("spec.egress[{i}]");
        if egress.port.is_none() && i + 1 != spec.egress.len() {
            found.error(
                format!("{at}.port"),
                "only the last egress listener may leave out its port (the catch-all)",
            );
        }
        listener(found, &at, egress, &mut numbers);
    }
    if let Some(policy) = &spec.outbound_traffic_policy {
        if let Some(proxy) = &policy.egress_proxy {
            let at = "spec.outboundTrafficPolicy.egressProxy";
            if policy.mode != OutboundMode::AllowAny {
                found.error(at, "egressProxy must be set only with mode ALLOW_ANY");
            }
            found.error_if(format!("{at}.host"), fqdn(&proxy.host));
            if proxy.port.is_none() {
                found.error(format!("{at}.port"), "egressProxy needs a port");
            }
            destination(found, at, proxy);
        }
    }
}

fn listener(found: &mut Findings, at: &str, egress: &EgressListener, numbers: &mut HashSet<u32>) {
    if let Some(port) = &egress.port {
        let at = format!("{at}.port");
        if port.target_port.is_some() {
            found.error(
                format!("{at}.targetPort"),
                "targetPort has no effect on Sidecars",
            );
        }
        if !port.name.is_empty() {
            found.error_if(format!("{at}.name"), port_name(&port.name));
        }
        if !port.protocol.is_empty() && !is_protocol(&port.protocol) {
            found.error(
                format!("{at}.protocol"),
                format!("unsupported protocol: {:?}", port.protocol),
            );
        }
        if !(1..=65535).contains(&port.number) {
            found.error(
                format!("{at}.number"),
                format!("port number {} must be in the range 1..65535", port.number),
            );
        } else if !numbers.insert(port.number) {
            found.error(
                format!("{at}.number"),
                format!("port {} is used by another egress listener", port.number),
            );
        }
    }
    if let Some(bind) = egress.bind.as_deref().filter(|b| !b.is_empty()) {
        found.error_if(format!("{at}.bind"), ip_address(bind));
    }
    if egress.hosts.is_empty() {
        found.error(
            format!("{at}.hosts"),
            "an egress listener must contain at least one host",
        );
    }
    for (i, host) in egress.hosts.iter().enumerate() {
        found.error_if(
            format!("{at}.hosts[{i}]"),
            namespace_slash_host(host, false),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    fn found(yaml: &str) -> Vec<String> {
        let mut found = Findings::default();
        sidecar(&mut found, &spec(yaml));
        lines(&found)
    }

    #[test]
    fn tutorial_sidecars_pass() {
        for good in [
            "egress: [{hosts: ['./*', 'istio-system/*']}]\n",
            "workloadSelector: {labels: {app: web}}\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\n",
            "egress: [{port: {number: 9080, protocol: HTTP, name: http}, hosts: ['*/reviews.shop.svc.cluster.local']}, {hosts: ['~/*']}]\n",
            "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: proxy.example, port: {number: 3128}}}\n",
        ] {
            assert_eq!(found(good), Vec::<String>::new(), "{good}");
        }
    }

    #[test]
    fn each_malformed_listener_is_named() {
        assert_eq!(found("{}"), ["spec: empty Sidecar: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool"]);
        let yaml = "egress:\n- hosts: [reviews]\n- port: {number: 80, protocol: QUIC, name: h_1, targetPort: 8080}\n  hosts: []\n\
                    - port: {number: 80}\n  bind: nowhere\n  hosts: ['shop/reviews']\n\
                    outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: proxy}}\n";
        assert_eq!(
            found(yaml),
            [
                "spec.egress[0].port: only the last egress listener may leave out its port (the catch-all)",
                "spec.egress[0].hosts[0]: host \"reviews\" must be of form namespace/dnsName",
                "spec.egress[1].port.targetPort: targetPort has no effect on Sidecars",
                "spec.egress[1].port.name: invalid port name: \"h_1\"",
                "spec.egress[1].port.protocol: unsupported protocol: \"QUIC\"",
                "spec.egress[1].hosts: an egress listener must contain at least one host",
                "spec.egress[2].port.number: port 80 is used by another egress listener",
                "spec.egress[2].bind: nowhere is not a valid IP",
                "spec.egress[2].hosts[0]: short names (non FQDN) are not allowed: \"reviews\"",
                "spec.outboundTrafficPolicy.egressProxy: egressProxy must be set only with mode ALLOW_ANY",
                "spec.outboundTrafficPolicy.egressProxy.port: egressProxy needs a port",
            ]
        );
    }
}
