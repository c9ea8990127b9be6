//! Request matching, as Istio's `HTTPMatchRequest`: every condition a match gives must hold;
//! a rule matches when any of its matches does (or it has none); the first matching rule wins.

use hyper::header::HOST;
use hyper::{HeaderMap, Method, Uri};

use crate::resources::{HttpMatch, HttpRoute, StringMatch};
use crate::snapshot::Labels;

/// What a request is matched on: the request itself and where it comes from.
#[derive(Clone, Copy, Debug)]
pub struct MatchInput<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The destination port the client dialled.
    pub port: u16,
    /// The client workload's labels, when known.
    pub source_labels: Option<&'a Labels>,
    /// The client workload's namespace, when known.
    pub source_namespace: Option<&'a str>,
    /// `mesh`, or the `ns/name` of the gateway the request came through.
    pub gateway: &'a str,
}

impl MatchInput<'_> {
    /// `:authority` for HTTP/2, the `Host` header for HTTP/1.1.
    pub fn authority(&self) -> Option<&str> {
        let from_uri = self.uri.authority().map(|a| a.as_str());
        from_uri.or_else(|| self.headers.get(HOST)?.to_str().ok())
    }

    /// The values of header `name`, joined by `,` as Envoy does.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter().peekable();
        values.peek()?;
        let text: Vec<&str> = values.filter_map(|v| v.to_str().ok()).collect();
        Some(text.join(","))
    }

    /// The first value of query parameter `name` (raw, not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.uri.query()?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

/// The index of the first rule of `rules` that `facts` match.
pub fn first_match(rules: &[HttpRoute], facts: &MatchInput<'_>) -> Option<usize> {
    rules.iter().position(|rule| rule_matches(rule, facts))
}

/// Whether `rule` applies: it has no match, or any of its matches holds.
pub fn rule_matches(rule: &HttpRoute, facts: &MatchInput<'_>) -> bool {
    rule.matches.is_empty() || first_holding(rule, facts).is_some()
}

/// The first match of `rule` that holds (what a `rewrite` replaces depends on it).
pub fn first_holding<'r>(rule: &'r HttpRoute, facts: &MatchInput<'_>) -> Option<&'r HttpMatch> {
    rule.matches.iter().find(|m| matches(m, facts))
}

/// Whether every condition of `m` holds for `facts`.
pub fn matches(m: &HttpMatch, facts: &MatchInput<'_>) -> bool {
    let uri = facts.uri.path();
    let uri_ok = m
        .uri
        .as_ref()
        .is_none_or(|s| string_matches(s, Some(uri), m.ignore_uri_case));
    uri_ok
        && optional(&m.method, Some(facts.method.as_str()))
        && optional(&m.authority, facts.authority())
        && optional(&m.scheme, facts.uri.scheme_str().or(Some("http")))
        && m.headers
            .iter()
            .all(|(name, s)| string_matches(s, facts.header(name).as_deref(), false))
        && m.without_headers
            .iter()
            .all(|(name, s)| !string_matches(s, facts.header(name).as_deref(), false))
        && m.query_params
            .iter()
            .all(|(name, s)| string_matches(s, facts.query_param(name), false))
        && m.port.is_none_or(|p| p == facts.port)
        && source_matches(m, facts)
        && (m.gateways.is_empty() || m.gateways.iter().any(|g| g == facts.gateway))
}

fn optional(condition: &Option<StringMatch>, value: Option<&str>) -> bool {
    condition
        .as_ref()
        .is_none_or(|s| string_matches(s, value, false))
}

fn source_matches(m: &HttpMatch, facts: &MatchInput<'_>) -> bool {
    let labels_ok = m.source_labels.is_empty()
        || facts.source_labels.is_some_and(|labels| {
            m.source_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        });
    let namespace_ok = m
        .source_namespace
        .as_deref()
        .is_none_or(|ns| facts.source_namespace == Some(ns));
    labels_ok && namespace_ok
}

/// Exact, prefix or (whole-value) regex; a match that names none of them only asks that the
/// value be present. `ignore_case` applies to exact and prefix, as Istio's `ignoreUriCase`.
pub fn string_matches(condition: &StringMatch, value: Option<&str>, ignore_case: bool) -> bool {
    let Some(value) = value else {
        return false;
    };
    let fold = |s: &str| match ignore_case {
        true => s.to_ascii_lowercase(),
        false => s.to_string(),
    };
    if let Some(exact) = &condition.exact {
        return fold(value) == fold(exact);
    }
    if let Some(prefix) = &condition.prefix {
        return fold(value).starts_with(&fold(prefix));
    }
    if let Some(regex) = &condition.regex {
        return regex.is_match(value);
    }
    true
}
