//! Host checked against SNI on an HTTPS port: a request whose Host is served by another server
//! than the one the TLS client named (and got the certificate of) is answered 421 Misdirected
//! Request, so a client that reused a connection for another host opens a new one. Hosts one
//! server covers (a wildcard, HTTP/2 connection reuse) agree.

use hyper::{Response, StatusCode};

use super::hosts::{best_match, normalized};
use super::selection::PortPlan;
use crate::http::{full, Body};

/// Whether `host` (the request's) and `sni` pick different servers of `plan`. A Host no server
/// serves is left to the route layer (404 `NR`); no SNI: nothing to check.
pub fn disagree(plan: &PortPlan, sni: Option<&str>, host: &str) -> bool {
    let Some(sni) = sni else {
        return false;
    };
    let server_of = |name: &str| {
        let servers = plan.servers.iter().enumerate();
        best_match(
            servers.map(|(i, s)| (s.hosts.as_slice(), i)),
            &normalized(name),
        )
    };
    match server_of(host) {
        None => false,
        Some(for_host) => server_of(sni) != Some(for_host),
    }
}

/// The 421 answer.
pub fn misdirected(host: &str, sni: &str) -> Response<Body> {
    tracing::debug!(%host, %sni, "gateway request misdirected: Host and SNI disagree");
    let mut response = Response::new(full(format!(
        "misdirected request: host {host} is not served on this connection (SNI {sni})\n"
    )));
    *response.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{BoundServer, HostPattern, PortProtocol};

    fn server(hosts: &[&str]) -> BoundServer {
        BoundServer {
            gateway: "shop/web".into(),
            namespace: "shop".into(),
            hosts: hosts
                .iter()
                .map(|h| HostPattern::parse(h, "shop"))
                .collect(),
            credential_name: Some("cert".into()),
        }
    }

    #[test]
    fn host_and_sni_agree_when_one_server_serves_both() {
        let plan = PortPlan {
            protocol: PortProtocol::Https,
            servers: vec![server(&["a.example.com"]), server(&["*.shop.example.com"])],
        };
        let cases = [
            (Some("a.example.com"), "a.example.com", false),
            (Some("a.example.com"), "A.example.com:443", false),
            (Some("x.shop.example.com"), "y.shop.example.com", false),
            (Some("a.example.com"), "x.shop.example.com", true),
            (Some("x.shop.example.com"), "a.example.com", true),
            (Some("unknown.example.org"), "a.example.com", true),
            (Some("a.example.com"), "nobody.example.org", false),
            (None, "a.example.com", false),
        ];
        for (sni, host, misdirected) in cases {
            assert_eq!(disagree(&plan, sni, host), misdirected, "{sni:?} {host}");
        }
    }
}
