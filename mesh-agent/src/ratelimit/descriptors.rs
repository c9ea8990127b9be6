//! A request's rate limit descriptors, as Envoy makes them from a route's `rate_limits`: each
//! entry's actions in order give one descriptor — `request_headers` the header's value under
//! its key (pseudo-headers `:path`, `:method`, `:authority`, `:scheme` from the request line;
//! a missing header drops the descriptor, or only that action with
//! `skip_if_absent`), `remote_address` the client's address under `remote_address`,
//! `generic_key` a fixed value under its key (`generic_key` by default). Entries with an
//! action the mesh does not read make no descriptor (reported at validation).

use std::net::IpAddr;

use hyper::{HeaderMap, Method, Uri};

use crate::resources::local_rate_limit::{DescriptorEntry, RateLimitAction, RouteRateLimit};

/// What descriptors are made from.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The downstream client's address.
    pub remote: Option<IpAddr>,
    /// The request's method (`:method`).
    pub method: Option<&'a Method>,
    /// The request's target (`:path`, `:authority`, `:scheme`).
    pub uri: Option<&'a Uri>,
}

impl RequestFacts<'_> {
    /// The value of header `name`, pseudo-headers included (`:authority` falls back on `Host`).
    fn header(&self, name: &str) -> Option<String> {
        let uri = self.uri;
        let host = || self.headers.get("host").and_then(|v| v.to_str().ok());
        let value = match name {
            ":path" => uri.and_then(Uri::path_and_query).map(|p| p.as_str()),
            ":method" => self.method.map(Method::as_str),
            ":authority" => uri
                .and_then(Uri::authority)
                .map(|a| a.as_str())
                .or_else(host),
            ":scheme" => uri.and_then(Uri::scheme_str),
            _ => self.headers.get(name).and_then(|v| v.to_str().ok()),
        };
        value.map(str::to_string)
    }
}

/// The descriptors of a request under `limits`, in order.
pub fn descriptors<'l>(
    limits: impl IntoIterator<Item = &'l RouteRateLimit>,
    facts: RequestFacts,
) -> Vec<Vec<DescriptorEntry>> {
    limits
        .into_iter()
        .filter_map(|limit| descriptor(limit, facts))
        .filter(|d| !d.is_empty())
        .collect()
}

fn descriptor(limit: &RouteRateLimit, facts: RequestFacts) -> Option<Vec<DescriptorEntry>> {
    let mut entries = Vec::with_capacity(limit.actions.len());
    for action in &limit.actions {
        if action.not_acted_on().is_some() {
            return None;
        }
        if let Some(entry) = entry(action, facts)? {
            entries.push(entry);
        }
    }
    Some(entries)
}

/// The action's entry; `Some(None)` skips the action, `None` drops the descriptor.
fn entry(action: &RateLimitAction, facts: RequestFacts) -> Option<Option<DescriptorEntry>> {
    let pair = |key: &str, value: String| {
        Some(Some(DescriptorEntry {
            key: key.to_string(),
            value,
        }))
    };
    if let Some(headers) = &action.request_headers {
        return match facts.header(&headers.header_name) {
            Some(value) => pair(&headers.descriptor_key, value),
            None if headers.skip_if_absent => Some(None),
            None => None,
        };
    }
    if action.remote_address.is_some() {
        return pair("remote_address", facts.remote?.to_string());
    }
    if let Some(generic) = &action.generic_key {
        let key = generic.descriptor_key.as_deref().filter(|k| !k.is_empty());
        return pair(
            key.unwrap_or("generic_key"),
            generic.descriptor_value.clone(),
        );
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(yaml: &str) -> Vec<RouteRateLimit> {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn made(yaml: &str, headers: &[(&'static str, &'static str)]) -> Vec<String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        let facts = RequestFacts {
            headers: &map,
            remote: Some("10.0.0.7".parse().unwrap()),
            method: None,
            uri: None,
        };
        let found = descriptors(&limits(yaml), facts);
        let text = |d: &Vec<DescriptorEntry>| {
            let pairs = d.iter().map(|e| format!("{}={}", e.key, e.value));
            pairs.collect::<Vec<_>>().join(",")
        };
        found.iter().map(text).collect()
    }

    #[test]
    fn actions_make_descriptors_as_envoy_does() {
        let yaml = "
- actions: [{requestHeaders: {headerName: x-user, descriptorKey: user}}]
- actions: [{remoteAddress: {}}]
- actions: [{genericKey: {descriptorValue: all}}, {requestHeaders: {headerName: x-tier, descriptorKey: tier, skipIfAbsent: true}}]
- actions: [{genericKey: {descriptorValue: v, descriptorKey: k}}]
- actions: [{headerValueMatch: {descriptorValue: x}}]
";
        assert_eq!(
            made(yaml, &[("x-user", "alice")]),
            [
                "user=alice",
                "remote_address=10.0.0.7",
                "generic_key=all",
                "k=v"
            ]
        );
        assert_eq!(
            made(yaml, &[("x-tier", "gold")]),
            [
                "remote_address=10.0.0.7",
                "generic_key=all,tier=gold",
                "k=v"
            ],
            "a missing header drops its descriptor unless skip_if_absent"
        );
    }

    #[test]
    fn pseudo_headers_come_from_the_request_line() {
        let yaml = "
- actions: [{requestHeaders: {headerName: ':path', descriptorKey: PATH}}]
- actions: [{requestHeaders: {headerName: ':method', descriptorKey: m}}, {requestHeaders: {headerName: ':authority', descriptorKey: a}}]
";
        let mut headers = HeaderMap::new();
        headers.insert("host", "web.shop".parse().unwrap());
        let uri: Uri = "/productpage?u=1".parse().unwrap();
        let facts = RequestFacts {
            headers: &headers,
            remote: None,
            method: Some(&Method::GET),
            uri: Some(&uri),
        };
        let found = descriptors(&limits(yaml), facts);
        let values: Vec<Vec<&str>> = found
            .iter()
            .map(|d| d.iter().map(|e| e.value.as_str()).collect())
            .collect();
        assert_eq!(values, [vec!["/productpage?u=1"], vec!["GET", "web.shop"]]);
    }
}
