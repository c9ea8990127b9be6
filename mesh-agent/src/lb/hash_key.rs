//! What a consistent-hash balancer hashes (`consistentHash`): a header, a cookie, the source IP
//! or a query parameter. A cookie with a `ttl` that the request lacks is made up and set on the
//! response, so the client sticks from its next request on (Envoy's generated cookie).

use std::time::Duration;

use hyper::header::{HeaderValue, COOKIE};

use super::ring::{hash, DEFAULT_RING_SIZE};
use super::PickInput;
use crate::resources::ConsistentHash;

/// The hash key of a consistent-hash policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    Header(String),
    Cookie {
        name: String,
        path: Option<String>,
        /// Set: a missing cookie is made up and set with this `Max-Age`.
        ttl: Option<Duration>,
    },
    SourceIp,
    QueryParameter(String),
}

/// The key and ring size of a `consistentHash` (its `ttl` was read when the resource was);
/// `None` when it names no key.
pub fn parse(config: &ConsistentHash) -> Option<(HashKey, usize)> {
    let size = config
        .ring_hash
        .as_ref()
        .and_then(|r| r.minimum_ring_size)
        .or(config.minimum_ring_size)
        .map_or(DEFAULT_RING_SIZE, |n| n.clamp(1, MAX_RING_SIZE) as usize);
    let key = if let Some(name) = &config.http_header_name {
        HashKey::Header(name.to_ascii_lowercase())
    } else if let Some(cookie) = &config.http_cookie {
        HashKey::Cookie {
            name: cookie.name.clone(),
            path: cookie.path.clone(),
            ttl: cookie.ttl.as_ref().map(|t| t.value),
        }
    } else if config.use_source_ip {
        HashKey::SourceIp
    } else {
        HashKey::QueryParameter(config.http_query_parameter_name.clone()?)
    };
    Some((key, size))
}

/// The largest ring built, whatever `minimumRingSize` asks for.
const MAX_RING_SIZE: u64 = 1 << 20;

/// What a request hashes to under `key`, and a cookie to set when one was made up. No hash:
/// the key is missing (the balancer then picks at random).
pub fn hash_of(key: &HashKey, input: &PickInput<'_>) -> (Option<u64>, Option<HeaderValue>) {
    let found = match key {
        HashKey::Header(name) => input.headers.get(name).map(|v| hash(v.as_bytes())),
        HashKey::SourceIp => input.source_ip.map(|ip| hash(ip.to_string().as_bytes())),
        HashKey::QueryParameter(name) => query_param(input, name).map(|v| hash(v.as_bytes())),
        HashKey::Cookie { name, path, ttl } => {
            if let Some(value) = cookie(input, name) {
                return (Some(hash(value.as_bytes())), None);
            }
            let Some(ttl) = ttl else {
                return (None, None);
            };
            let value = made_up_cookie(input);
            let set = set_cookie(name, &value, path.as_deref(), *ttl);
            return (Some(hash(value.as_bytes())), set);
        }
    };
    (found, None)
}

fn query_param<'a>(input: &PickInput<'a>, name: &str) -> Option<&'a str> {
    input.uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

fn cookie(input: &PickInput<'_>, name: &str) -> Option<String> {
    let headers = input.headers.get_all(COOKIE).iter();
    headers
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.trim_matches('"').to_string())
        })
}

/// Envoy hashes the client's address to make the cookie up: the same client gets the same one.
fn made_up_cookie(input: &PickInput<'_>) -> String {
    let seed = input.source_ip.map(|ip| ip.to_string()).unwrap_or_default();
    format!("{:016x}", hash(seed.as_bytes()))
}

fn set_cookie(name: &str, value: &str, path: Option<&str>, ttl: Duration) -> Option<HeaderValue> {
    let mut text = format!("{name}=\"{value}\"; Max-Age={}", ttl.as_secs());
    if let Some(path) = path {
        text.push_str(&format!("; Path={path}"));
    }
    text.push_str("; HttpOnly");
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use hyper::{HeaderMap, Uri};

    use super::*;

    fn key(yaml: &str) -> Option<(HashKey, usize)> {
        parse(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn config_table() {
        let cookie = |ttl: Option<u64>| HashKey::Cookie {
            name: "user".into(),
            path: None,
            ttl: ttl.map(Duration::from_secs),
        };
        let cases = [
            (
                "{httpHeaderName: X-User}",
                Some((HashKey::Header("x-user".into()), 1024)),
            ),
            (
                "{httpCookie: {name: user, ttl: 0s}}",
                Some((cookie(Some(0)), 1024)),
            ),
            ("{httpCookie: {name: user}}", Some((cookie(None), 1024))),
            (
                "{useSourceIp: true, minimumRingSize: 64}",
                Some((HashKey::SourceIp, 64)),
            ),
            (
                "{httpQueryParameterName: q, ringHash: {minimumRingSize: 8}}",
                Some((HashKey::QueryParameter("q".into()), 8)),
            ),
            (
                "{useSourceIp: true, minimumRingSize: 18446744073709551615}",
                Some((HashKey::SourceIp, 1 << 20)),
            ),
            ("{}", None),
        ];
        for (yaml, want) in cases {
            assert_eq!(key(yaml), want, "{yaml}");
        }
    }

    fn input<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> PickInput<'a> {
        PickInput {
            headers,
            uri,
            source_ip: Some([10, 0, 0, 9].into()),
            original_dst: None,
        }
    }

    #[test]
    fn keys_come_from_the_request() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", "jason".parse().unwrap());
        headers.insert("cookie", "a=1; user=\"abc\"".parse().unwrap());
        let uri: Uri = "/x?q=7".parse().unwrap();
        let input = input(&headers, &uri);
        let of = |k: HashKey| hash_of(&k, &input).0;
        assert_eq!(of(HashKey::Header("x-user".into())), Some(hash(b"jason")));
        assert_eq!(of(HashKey::QueryParameter("q".into())), Some(hash(b"7")));
        assert_eq!(of(HashKey::SourceIp), Some(hash(b"10.0.0.9")));
        let cookie = HashKey::Cookie {
            name: "user".into(),
            path: None,
            ttl: None,
        };
        assert_eq!(of(cookie), Some(hash(b"abc")));
        assert_eq!(of(HashKey::Header("absent".into())), None);
    }

    #[test]
    fn a_missing_cookie_with_a_ttl_is_made_up_and_set() {
        let (headers, uri) = (HeaderMap::new(), "/".parse::<Uri>().unwrap());
        let with_ttl = HashKey::Cookie {
            name: "user".into(),
            path: Some("/".into()),
            ttl: Some(Duration::from_secs(60)),
        };
        let (hashed, set) = hash_of(&with_ttl, &input(&headers, &uri));
        let set = set.unwrap();
        let set = set.to_str().unwrap();
        assert!(
            set.starts_with("user=\"") && set.ends_with("; Max-Age=60; Path=/; HttpOnly"),
            "{set}"
        );
        let value = set.split('"').nth(1).unwrap();
        assert_eq!(hashed, Some(hash(value.as_bytes())));
        let without = HashKey::Cookie {
            name: "user".into(),
            path: None,
            ttl: None,
        };
        assert_eq!(hash_of(&without, &input(&headers, &uri)), (None, None));
    }
}
