//! A Gateway as Istio's `ValidateGateway` reads it: a DNS-label name, at least one server; each
//! server with hosts (`namespace/host` or a host, no short names, no partial wildcards), a named
//! port of a known protocol without `targetPort`, a bind address, and TLS settings exactly when
//! its protocol is TLS (a plain HTTP server may only redirect to HTTPS); port names unique.

use std::collections::HashSet;

use super::finding::Findings;
use super::names::{ip_address, is_http, is_label, is_protocol, is_tls, namespace_slash_host};
use super::tls::server_tls;
use crate::resources::{GatewaySpec, Server, ServerTlsMode};

/// Problems of the Gateway `spec` named `name`.
pub(crate) fn gateway(found: &mut Findings, spec: &GatewaySpec, name: &str) {
    if !is_label(name) {
        found.error(
            "metadata.name",
            format!("invalid gateway name {name:?} (a DNS-1123 label)"),
        );
    }
    if spec.servers.is_empty() {
        found.error("spec.servers", "a gateway must have at least one server");
    }
    let mut names = HashSet::new();
    for (i, server) in spec.servers.iter().enumerate() {
        let at = format!("spec.servers[{i}]");
        check_server(found, &at, server);
        if !names.insert(server.port.name.as_str()) {
            let message = format!(
                "port names in servers must be unique: {:?} is used twice",
                server.port.name
            );
            found.error(format!("{at}.port.name"), message);
        }
        let redirect = server.tls.as_ref().and_then(|t| t.https_redirect) == Some(true);
        if redirect && !is_http(&server.port.protocol) {
            found.warning(
                format!("{at}.tls.httpsRedirect"),
                "httpsRedirect only applies to HTTP servers",
            );
        }
    }
}

fn check_server(found: &mut Findings, at: &str, server: &Server) {
    if server.hosts.is_empty() {
        found.error(
            format!("{at}.hosts"),
            "a server must have at least one host",
        );
    }
    for (i, host) in server.hosts.iter().enumerate() {
        found.error_if(format!("{at}.hosts[{i}]"), namespace_slash_host(host, true));
    }
    let port = &server.port;
    let known = is_protocol(&port.protocol);
    if !known {
        let message = format!("invalid protocol {:?}: use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS or MYSQL", port.protocol);
        found.error(format!("{at}.port.protocol"), message);
    }
    if port.target_port.is_some() {
        found.error(
            format!("{at}.port.targetPort"),
            "targetPort has no effect on Gateways",
        );
    }
    if port.name.is_empty() {
        found.error(format!("{at}.port.name"), "port name must be set");
    }
    match server.bind.as_deref() {
        Some(bind) if bind.starts_with("unix://") => {
            found.error(
                format!("{at}.bind"),
                "unix domain socket binds are not supported by the mesh",
            );
        }
        Some(bind) if !bind.is_empty() => found.error_if(format!("{at}.bind"), ip_address(bind)),
        _ => {}
    }
    if let Some(tls) = &server.tls {
        server_tls(found, &format!("{at}.tls"), tls);
    }
    if !known {
        return;
    }
    match (&server.tls, is_tls(&port.protocol)) {
        (None, true) => found.error(
            format!("{at}.tls"),
            "a server must have TLS settings for HTTPS/TLS protocols",
        ),
        (Some(tls), false) if is_http(&port.protocol) => {
            let passthrough = matches!(
                tls.mode.unwrap_or(ServerTlsMode::Passthrough),
                ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
            );
            let files = [
                &tls.ca_certificates,
                &tls.private_key,
                &tls.server_certificate,
            ]
            .iter()
            .any(|f| f.is_some());
            if !passthrough || files {
                found.error(
                    format!("{at}.tls"),
                    "a plain-text HTTP server cannot have TLS settings (httpsRedirect only)",
                );
            }
        }
        (Some(_), false) => found.error(
            format!("{at}.tls"),
            "a server cannot have TLS settings for non HTTPS/TLS ports",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    fn found(yaml: &str, name: &str) -> Vec<String> {
        let mut found = Findings::default();
        gateway(&mut found, &spec(yaml), name);
        lines(&found)
    }

    #[test]
    fn tutorial_gateways_pass() {
        let yaml = "selector: {istio: ingressgateway}\nservers:\n\
                    - port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']\n  tls: {httpsRedirect: true}\n\
                    - port: {number: 443, name: https, protocol: HTTPS}\n  hosts: [shop/bookinfo.example.com, 10.0.0.1]\n  tls: {mode: SIMPLE, credentialName: cert}\n\
                    - port: {number: 15443, name: tls, protocol: TLS}\n  hosts: ['*.local']\n  tls: {mode: AUTO_PASSTHROUGH}\n  bind: 0.0.0.0\n";
        assert_eq!(found(yaml, "edge"), Vec::<String>::new());
    }

    #[test]
    fn each_malformed_server_is_named() {
        let yaml = "servers:\n\
                    - port: {number: 80, protocol: HTTP, targetPort: 8080}\n  hosts: [bookinfo]\n\
                    - port: {number: 443, name: https, protocol: HTTPS}\n  hosts: ['shop/*x.example.com']\n\
                    - port: {number: 81, name: https, protocol: HTTP}\n  hosts: ['*']\n  tls: {mode: SIMPLE, credentialName: c}\n\
                    - port: {number: 82, name: q, protocol: QUIC}\n  hosts: []\n  bind: localhost\n";
        assert_eq!(
            found(yaml, "Edge_1"),
            [
                "metadata.name: invalid gateway name \"Edge_1\" (a DNS-1123 label)",
                "spec.servers[0].hosts[0]: short names (non FQDN) are not allowed: \"bookinfo\"",
                "spec.servers[0].port.targetPort: targetPort has no effect on Gateways",
                "spec.servers[0].port.name: port name must be set",
                "spec.servers[1].hosts[0]: partial wildcard \"*x.example.com\" not allowed",
                "spec.servers[1].tls: a server must have TLS settings for HTTPS/TLS protocols",
                "spec.servers[2].tls: a plain-text HTTP server cannot have TLS settings (httpsRedirect only)",
                "spec.servers[2].port.name: port names in servers must be unique: \"https\" is used twice",
                "spec.servers[3].hosts: a server must have at least one host",
                "spec.servers[3].port.protocol: invalid protocol \"QUIC\": use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS or MYSQL",
                "spec.servers[3].bind: localhost is not a valid IP",
            ]
        );
    }
}
