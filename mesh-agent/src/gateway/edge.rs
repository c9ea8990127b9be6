//! Requests from outside the mesh, taken as Envoy takes them at the edge (`use_remote_address`,
//! `xff_num_trusted_hops` = MeshConfig `defaultConfig.gatewayTopology.numTrustedProxies`): the
//! peer's address is appended to `x-forwarded-for`; the client is the peer, or with N trusted
//! proxies in front the N-th `x-forwarded-for` entry from the right (the peer when there are
//! fewer), and is passed on as `x-envoy-external-address`; `x-forwarded-proto` says how the
//! client came. `x-envoy-*` headers never come in from outside; with no trusted proxy in front,
//! neither do `x-request-id` nor the trace context (W3C, B3) — the gateway starts the request's
//! id and trace, so a client can neither pick its id nor force a trace sampled.

use std::net::IpAddr;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const EXTERNAL_ADDRESS: HeaderName = HeaderName::from_static("x-envoy-external-address");

/// What a caller outside the mesh may not decide unless a trusted proxy set it.
const UNTRUSTED: [&str; 9] = [
    "x-request-id",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// How a request reached the gateway.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    /// The connection's peer.
    pub peer: IpAddr,
    /// Over TLS (an HTTPS port).
    pub tls: bool,
    /// `numTrustedProxies`.
    pub trusted_proxies: u32,
}

/// Rewrites `headers` of a request that arrived as `arrival` says (see the module).
pub fn take_from_outside(headers: &mut HeaderMap, arrival: Arrival) {
    let forwarded = forwarded_for(headers);
    let client = client_address(&forwarded, arrival.peer, arrival.trusted_proxies);
    let envoy: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-envoy-"))
        .cloned()
        .collect();
    envoy.iter().for_each(|name| drop(headers.remove(name)));
    if arrival.trusted_proxies == 0 {
        UNTRUSTED
            .iter()
            .for_each(|name| drop(headers.remove(*name)));
    }
    let peer = arrival.peer.to_canonical().to_string();
    let appended = match forwarded.is_empty() {
        true => peer,
        false => format!("{}, {peer}", forwarded.join(", ")),
    };
    if let Ok(value) = HeaderValue::from_str(&appended) {
        headers.insert(FORWARDED_FOR, value);
    }
    if let Ok(value) = HeaderValue::from_str(&client) {
        headers.insert(EXTERNAL_ADDRESS, value);
    }
    let proto = if arrival.tls { "https" } else { "http" };
    headers.insert(FORWARDED_PROTO, HeaderValue::from_static(proto));
}

/// Every `x-forwarded-for` entry, in order, over all its header lines.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

/// The client's address: the peer, or the `trusted`-th entry from the right of `forwarded`.
fn client_address(forwarded: &[String], peer: IpAddr, trusted: u32) -> String {
    let peer = || peer.to_canonical().to_string();
    let Some(from_right) = usize::try_from(trusted).ok().filter(|n| *n > 0) else {
        return peer();
    };
    match forwarded.len().checked_sub(from_right) {
        Some(index) => forwarded[index].clone(),
        None => peer(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(trusted_proxies: u32) -> Arrival {
        Arrival {
            peer: "203.0.113.7".parse().unwrap(),
            tls: true,
            trusted_proxies,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn get<'a>(map: &'a HeaderMap, name: &str) -> Option<&'a str> {
        map.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn with_no_trusted_proxy_the_peer_is_the_client_and_outside_ids_are_dropped() {
        let mut map = headers(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-request-id", "chosen-by-client"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("x-b3-sampled", "1"),
            ("x-envoy-force-trace", "true"),
            ("x-envoy-external-address", "1.2.3.4"),
            ("user-agent", "curl"),
        ]);
        take_from_outside(&mut map, arrival(0));
        assert_eq!(get(&map, "x-forwarded-for"), Some("10.0.0.1, 203.0.113.7"));
        assert_eq!(get(&map, "x-envoy-external-address"), Some("203.0.113.7"));
        assert_eq!(get(&map, "x-forwarded-proto"), Some("https"));
        for gone in [
            "x-request-id",
            "traceparent",
            "x-b3-sampled",
            "x-envoy-force-trace",
        ] {
            assert_eq!(get(&map, gone), None, "{gone}");
        }
        assert_eq!(get(&map, "user-agent"), Some("curl"));
    }

    #[test]
    fn trusted_proxies_name_the_client_and_keep_the_request_id() {
        let mut map = headers(&[
            ("x-forwarded-for", "198.51.100.1, 10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-request-id", "from-the-front-proxy"),
            ("x-envoy-debug", "x"),
        ]);
        take_from_outside(&mut map, arrival(2));
        assert_eq!(
            get(&map, "x-forwarded-for"),
            Some("198.51.100.1, 10.0.0.1, 10.0.0.2, 203.0.113.7")
        );
        assert_eq!(get(&map, "x-envoy-external-address"), Some("10.0.0.1"));
        assert_eq!(get(&map, "x-request-id"), Some("from-the-front-proxy"));
        assert_eq!(get(&map, "x-envoy-debug"), None);
    }

    #[test]
    fn too_few_forwarded_entries_fall_back_to_the_peer() {
        let forwarded = vec!["10.0.0.1".to_string()];
        let peer: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(client_address(&forwarded, peer, 3), "203.0.113.7");
        assert_eq!(client_address(&forwarded, peer, 1), "10.0.0.1");
        assert_eq!(client_address(&[], peer, 0), "203.0.113.7");
    }
}
