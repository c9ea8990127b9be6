//! Hop-by-hop headers (RFC 9110 §7.6.1) end at the mesh, as at Envoy: `Connection` and every
//! header it names, `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding` (hyper frames the body
//! again), `TE` but for `trailers` (gRPC needs it on HTTP/2), and `Upgrade` but for a WebSocket
//! upgrade, the one the mesh passes through. An h2c upgrade is refused as Envoy refuses it: the
//! request goes on without `Upgrade: h2c` and its `HTTP2-Settings`.

use hyper::header::{HeaderName, HeaderValue, CONNECTION, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use hyper::HeaderMap;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// The headers [`strip`] acts on (`HTTP2-Settings` only beside `Upgrade`): a message carrying
/// none of them, as most do, is left as it is without a lookup per name.
static HOP_BY_HOP: [HeaderName; 6] = [
    CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    TRANSFER_ENCODING,
    TE,
    UPGRADE,
];

/// Whether `headers` ask for a WebSocket upgrade (`Upgrade: websocket`, `Connection: upgrade`).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, &UPGRADE, "websocket") && has_token(headers, &CONNECTION, "upgrade")
}

/// Removes the hop-by-hop headers from a request or response the mesh forwards. With
/// `websocket` (a WebSocket upgrade, or the `101` answering one) `Upgrade` stays and
/// `Connection` says `upgrade` only.
pub fn strip(headers: &mut HeaderMap, websocket: bool) {
    if !websocket && !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    for named in tokens(headers, &CONNECTION) {
        let Ok(name) = HeaderName::from_bytes(named.as_bytes()) else {
            continue;
        };
        // TE has its own rule; Host addresses the upstream (routing already read it).
        if name != TE && name != HOST && !(websocket && name == UPGRADE) {
            headers.remove(&name);
        }
    }
    for name in [CONNECTION, KEEP_ALIVE, PROXY_CONNECTION, TRANSFER_ENCODING] {
        headers.remove(name);
    }
    let trailers = has_token(headers, &TE, "trailers");
    headers.remove(TE);
    if trailers {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    if websocket {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        return;
    }
    if has_token(headers, &UPGRADE, "h2c") {
        headers.remove(HTTP2_SETTINGS);
    }
    headers.remove(UPGRADE);
}

/// The comma-separated tokens of every `name` header, lowercased, parameters dropped.
fn tokens(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    tokens(headers, name).iter().any(|t| t == token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header names and values, in order.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, value.parse().unwrap());
        }
        map
    }

    fn stripped(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut map = headers(pairs);
        let websocket = is_websocket_upgrade(&map);
        strip(&mut map, websocket);
        let mut left: Vec<_> = map
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        left.sort();
        left
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hop_by_hop_headers_end_here_and_end_to_end_ones_go_on() {
        let table: &[(Headers, Headers)] = &[
            (
                &[("connection", "keep-alive"), ("keep-alive", "timeout=5")],
                &[],
            ),
            (
                &[("proxy-connection", "keep-alive"), ("x-id", "1")],
                &[("x-id", "1")],
            ),
            (&[("transfer-encoding", "chunked")], &[]),
            (
                &[
                    ("connection", "close, X-Secret"),
                    ("x-secret", "s"),
                    ("x-id", "1"),
                ],
                &[("x-id", "1")],
            ),
            (
                &[
                    ("connection", "x-a"),
                    ("connection", "x-b;q=1"),
                    ("x-a", "1"),
                    ("x-b", "2"),
                ],
                &[],
            ),
            (&[("te", "trailers")], &[("te", "trailers")]),
            (
                &[("te", "gzip, Trailers;q=0.5"), ("connection", "te")],
                &[("te", "trailers")],
            ),
            (&[("te", "gzip")], &[]),
            (
                &[("connection", "host"), ("host", "web.shop")],
                &[("host", "web.shop")],
            ),
            (&[("upgrade", "foo/2"), ("connection", "upgrade")], &[]),
            (&[("upgrade", "websocket"), ("x-id", "1")], &[("x-id", "1")]),
        ];
        for (input, left) in table {
            assert_eq!(stripped(input), pairs(left), "{input:?}");
        }
    }

    #[test]
    fn an_h2c_upgrade_is_refused_and_its_settings_dropped() {
        let input = [
            ("upgrade", "h2c"),
            ("connection", "Upgrade, HTTP2-Settings"),
            ("http2-settings", "AAMAAABkAARAAAAAAAIAAAAA"),
            ("x-id", "1"),
        ];
        assert_eq!(stripped(&input), pairs(&[("x-id", "1")]));
        let unnamed = [("upgrade", "h2c"), ("http2-settings", "AAMAAABk")];
        assert_eq!(stripped(&unnamed), pairs(&[]));
    }

    #[test]
    fn a_websocket_upgrade_keeps_upgrade_and_connection_upgrade_only() {
        let input = [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade, x-hop"),
            ("x-hop", "1"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert!(is_websocket_upgrade(&headers(&input)));
        assert_eq!(
            stripped(&input),
            pairs(&[
                ("connection", "upgrade"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("upgrade", "websocket"),
            ])
        );
    }
}
