//! Whether one rule of a policy matches a connection or a request: any `from`, any `to`, every
//! `when`; within each, every field given (any of its values, none of its `not` values).
//!
//! Opaque TCP follows Envoy's sidecar (Istio's builder for TCP filters): an ALLOW rule naming an
//! HTTP-only field (`requestPrincipals`, `hosts`, `methods`, `paths`, `request.*` conditions)
//! never matches a TCP connection; in a DENY or AUDIT rule those fields are left out, so a
//! DENY rule of HTTP fields only denies every TCP connection (`mesh-agent check` warns).

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;

use super::paths::path_matches;
use crate::facts::RequestAuth;
use crate::identity::Identity;
use crate::resources::AuthzAction;
use crate::snapshot::{
    AuthzRule, ConditionMatch, OperationMatch, SourceMatch, StringMatch, Values,
};

/// What a decision is made on: the peer, the addresses, and the request when there is one.
#[derive(Clone, Copy, Debug)]
pub struct AuthzFacts<'a> {
    /// The authenticated peer (mTLS); `None` for plain text.
    pub peer: Option<&'a Identity>,
    /// The downstream address (`source.ip`, `ipBlocks`).
    pub source_ip: IpAddr,
    /// The original client (`remote.ip`, `remoteIpBlocks`): the downstream address, as no
    /// proxy in front is trusted (`numTrustedProxies` 0).
    pub remote_ip: IpAddr,
    /// What the client dialled: the workload's IP and port (`destination.*`, `ports`).
    pub destination: SocketAddr,
    /// The TLS server name the client sent, when the agent saw one.
    pub sni: Option<&'a str>,
    /// The HTTP request; `None` for opaque TCP.
    pub http: Option<HttpFacts<'a>>,
}

/// The parts of an HTTP request a policy names.
#[derive(Clone, Copy, Debug)]
pub struct HttpFacts<'a> {
    pub method: &'a str,
    /// `:authority` / `Host`.
    pub host: &'a str,
    /// The normalized path, without query ([`super::normalize`]).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// The end user a RequestAuthentication verified (`requestPrincipals`, `request.auth.*`).
    pub auth: Option<&'a RequestAuth>,
}

/// Whether `rule` of a policy with `action` matches.
pub fn rule_matches(rule: &AuthzRule, action: AuthzAction, facts: &AuthzFacts) -> bool {
    if facts.http.is_none() && action == AuthzAction::Allow && names_http(rule) {
        return false;
    }
    (rule.from.is_empty() || rule.from.iter().any(|s| source_matches(s, facts)))
        && (rule.to.is_empty() || rule.to.iter().any(|o| operation_matches(o, facts)))
        && rule.when.iter().all(|c| condition_matches(c, facts))
}

/// Whether the rule names a field only HTTP requests have.
pub fn names_http(rule: &AuthzRule) -> bool {
    let from = rule.from.iter().any(|s| s.request_principals.is_set());
    let to = rule
        .to
        .iter()
        .any(|o| o.hosts.is_set() || o.methods.is_set() || o.paths.is_set());
    from || to || rule.when.iter().any(|c| is_http_key(&c.key))
}

fn is_http_key(key: &str) -> bool {
    key.starts_with("request.")
}

/// Any of `values.any` (when given) and none of `values.none` satisfy `matches`.
fn values<T>(values: &Values<T>, matches: impl Fn(&T) -> bool) -> bool {
    let any = values.any.is_empty() || values.any.iter().any(&matches);
    any && !values.none.iter().any(&matches)
}

/// [`values`] for a field of the request; left out for TCP.
fn http_values<T>(
    list: &Values<T>,
    facts: &AuthzFacts,
    matches: impl Fn(&T, &HttpFacts) -> bool,
) -> bool {
    match &facts.http {
        Some(http) => values(list, |v| matches(v, http)),
        None => true,
    }
}

/// Istio's string match.
pub fn string_matches(pattern: &StringMatch, value: &str) -> bool {
    match pattern {
        StringMatch::Exact(exact) => value == exact,
        StringMatch::Prefix(prefix) => value.starts_with(prefix.as_str()),
        StringMatch::Suffix(suffix) => value.ends_with(suffix.as_str()),
        StringMatch::Presence => !value.is_empty(),
    }
}

/// [`string_matches`] against an attribute that may be missing (then nothing matches).
fn maybe(pattern: &StringMatch, value: Option<&str>) -> bool {
    value.is_some_and(|v| string_matches(pattern, v))
}

/// The peer's principal as policies write it: `<trust domain>/ns/<ns>/sa/<sa>`.
fn principal(peer: &Identity) -> String {
    let (td, ns, sa) = (&peer.trust_domain, &peer.namespace, &peer.service_account);
    format!("{td}/ns/{ns}/sa/{sa}")
}

fn service_account(peer: &Identity) -> String {
    format!("{}/{}", peer.namespace, peer.service_account)
}

fn source_matches(s: &SourceMatch, facts: &AuthzFacts) -> bool {
    let principal = facts.peer.map(principal);
    let account = facts.peer.map(service_account);
    let namespace = facts.peer.map(|p| p.namespace.as_str());
    values(&s.principals, |m| maybe(m, principal.as_deref()))
        && values(&s.namespaces, |m| maybe(m, namespace))
        && values(&s.service_accounts, |a| account.as_ref() == Some(a))
        && values(&s.ip_blocks, |b| b.contains(&facts.source_ip))
        && values(&s.remote_ip_blocks, |b| b.contains(&facts.remote_ip))
        && http_values(&s.request_principals, facts, |m, http| {
            maybe(m, http.auth.map(|a| a.principal.as_str()))
        })
}

fn operation_matches(o: &OperationMatch, facts: &AuthzFacts) -> bool {
    values(&o.ports, |p| *p == facts.destination.port())
        && http_values(&o.hosts, facts, |m, http| host_matches(m, http.host))
        && http_values(&o.methods, facts, |m, http| string_matches(m, http.method))
        && http_values(&o.paths, facts, |m, http| path_matches(m, http.path))
}

/// Hosts compare without case.
fn host_matches(pattern: &StringMatch, host: &str) -> bool {
    let lower = |s: &str| s.to_ascii_lowercase();
    let pattern = match pattern {
        StringMatch::Exact(s) => StringMatch::Exact(lower(s)),
        StringMatch::Prefix(s) => StringMatch::Prefix(lower(s)),
        StringMatch::Suffix(s) => StringMatch::Suffix(lower(s)),
        StringMatch::Presence => StringMatch::Presence,
    };
    string_matches(&pattern, &lower(host))
}

fn condition_matches(c: &ConditionMatch, facts: &AuthzFacts) -> bool {
    let key = c.key.as_str();
    let ip = match key {
        "source.ip" => Some(facts.source_ip),
        "remote.ip" => Some(facts.remote_ip),
        "destination.ip" => Some(facts.destination.ip()),
        _ => None,
    };
    if let Some(ip) = ip {
        return values(&c.blocks, |b| b.contains(&ip));
    }
    if is_http_key(key) && facts.http.is_none() {
        return true;
    }
    let peer = facts.peer;
    let value: Option<String> = match key {
        "destination.port" => Some(facts.destination.port().to_string()),
        "source.namespace" => peer.map(|p| p.namespace.clone()),
        "source.principal" => peer.map(principal),
        "source.serviceAccount" => peer.map(service_account),
        "connection.sni" => facts.sni.map(str::to_string),
        _ => None,
    };
    if let Some(name) = key
        .strip_prefix("request.headers[")
        .and_then(|k| k.strip_suffix(']'))
    {
        let headers = facts.http.map(|h| h.headers.get_all(name));
        let found: Vec<&str> = headers
            .into_iter()
            .flatten()
            .filter_map(|v| v.to_str().ok())
            .collect();
        return values(&c.values, |m| found.iter().any(|v| string_matches(m, v)));
    }
    if let Some(found) = request_auth(key, facts) {
        return values(&c.values, |m| found.iter().any(|v| string_matches(m, v)));
    }
    // Experimental keys: the attribute is missing.
    values(&c.values, |m| maybe(m, value.as_deref()))
}

/// The values of a `request.auth.*` key (none without a verified token); `None` for other keys.
/// Claims nest as `request.auth.claims[outer][inner]`; a list claim gives each string.
fn request_auth<'a>(key: &str, facts: &AuthzFacts<'a>) -> Option<Vec<&'a str>> {
    let attribute = key.strip_prefix("request.auth.")?;
    let Some(auth) = facts.http.and_then(|h| h.auth) else {
        return Some(Vec::new());
    };
    let found = match attribute {
        "principal" => vec![auth.principal.as_str()],
        "audiences" => auth.audiences.iter().map(String::as_str).collect(),
        "presenter" => auth.presenter.as_deref().into_iter().collect(),
        claims => {
            let path = claims.strip_prefix("claims[")?.strip_suffix(']')?;
            let path: Vec<&str> = path.split("][").collect();
            auth.claim_strings(&path)
        }
    };
    Some(found)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
