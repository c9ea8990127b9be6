//! A VirtualService's HTTP match conditions (Istio's `validateHTTPRouteMatchRequest`): each
//! string match one of exact, prefix or regex, a prefix not empty (except on `uri`), a regex
//! not empty and at most [`REGEX_MAX`] characters (Istio's stand-in for Envoy's RE2 program
//! size limit; the expression must also compile, checked when it is read); header names of
//! letters, digits, `-` and `_` (or a `@request.auth.claims` route); ports, source labels,
//! source namespace and gateway names well formed.

use std::collections::BTreeMap;

use super::finding::Findings;
use super::labels::label_map;
use super::names::{gateway_names, is_label};
use crate::resources::{HttpMatch, StringMatch};

/// The longest regex Istio lets through (`validateStringRegexp`).
pub(crate) const REGEX_MAX: usize = 1024;

/// The prefix of a header match on a JWT claim (gateways only).
pub(crate) const CLAIM_ROUTE: &str = "@request.auth.claims";

/// Problems of `matches`, the `match` of the rule at `at`.
pub(crate) fn http_matches(found: &mut Findings, at: &str, matches: &[HttpMatch]) {
    for (i, m) in matches.iter().enumerate() {
        let at = format!("{at}.match[{i}]");
        headers(found, &format!("{at}.headers"), &m.headers);
        headers(found, &format!("{at}.withoutHeaders"), &m.without_headers);
        if let Some(uri) = &m.uri {
            string_match(found, &format!("{at}.uri"), uri, true);
        }
        let named = [
            ("scheme", &m.scheme),
            ("method", &m.method),
            ("authority", &m.authority),
        ];
        for (name, value) in named {
            if let Some(value) = value {
                string_match(found, &format!("{at}.{name}"), value, false);
            }
        }
        for (name, value) in &m.query_params {
            string_match(found, &format!("{at}.queryParams.{name}"), value, false);
        }
        if m.port == Some(0) {
            found.error(
                format!("{at}.port"),
                "port number 0 must be in the range 1..65535",
            );
        }
        label_map(found, &format!("{at}.sourceLabels"), &m.source_labels);
        gateway_names(found, &format!("{at}.gateways"), &m.gateways);
        if let Some(namespace) = m.source_namespace.as_deref().filter(|n| !n.is_empty()) {
            if !is_label(namespace) {
                let message =
                    format!("sourceNamespace {namespace:?} is not a valid namespace name");
                found.error(format!("{at}.sourceNamespace"), message);
            }
        }
    }
}

fn headers(found: &mut Findings, at: &str, headers: &BTreeMap<String, StringMatch>) {
    for (name, value) in headers {
        let field = format!("{at}.{name}");
        found.error_if(field.clone(), header_name(name));
        string_match(found, &field, value, false);
    }
}

/// A header name a route may match on: letters, digits, `-` and `_`, or a JWT claim route.
pub(crate) fn header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    let claim = name
        .strip_prefix(CLAIM_ROUTE)
        .is_some_and(|rest| rest.len() > 1 && (rest.starts_with('.') || rest.starts_with('[')));
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match claim || plain {
        true => Ok(()),
        false => Err(format!("header name {name:?} is not a valid header name")),
    }
}

/// One of exact, prefix or regex; an empty prefix only where `empty_prefix` (the uri).
pub(crate) fn string_match(
    found: &mut Findings,
    at: &str,
    value: &StringMatch,
    empty_prefix: bool,
) {
    let set = [
        value.exact.is_some(),
        value.prefix.is_some(),
        value.regex.is_some(),
    ];
    if set.iter().filter(|s| **s).count() > 1 {
        found.error(at, "set only one of exact, prefix or regex");
    }
    if value.prefix.as_deref() == Some("") && !empty_prefix {
        found.error(
            format!("{at}.prefix"),
            "prefix string match should not be empty",
        );
    }
    if let Some(regex) = &value.regex {
        found.error_if(format!("{at}.regex"), regex_size(regex.as_str()));
    }
}

/// A regex neither empty nor past [`REGEX_MAX`] characters.
pub(crate) fn regex_size(regex: &str) -> Result<(), String> {
    if regex.is_empty() {
        return Err("regex string match should not be empty".into());
    }
    match regex.len() > REGEX_MAX {
        true => Err(format!(
            "regex is too large ({} characters, at most {REGEX_MAX})",
            regex.len()
        )),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::HttpRoute;
    use crate::validate::finding::table::{lines, spec};

    fn found(rule: &str) -> Vec<String> {
        let rule: HttpRoute = spec(rule);
        let mut found = Findings::default();
        http_matches(&mut found, "r", &rule.matches);
        lines(&found)
    }

    #[test]
    fn well_formed_matches_pass() {
        let rule = "match:\n- uri: {prefix: ''}\n  headers: {x-user_id: {exact: a}, '@request.auth.claims.group': {exact: g}}\n\
                    \x20 withoutHeaders: {x-debug: {}}\n  method: {exact: GET}\n  queryParams: {v: {regex: 'v[0-9]'}}\n\
                    \x20 port: 8080\n  sourceLabels: {app: web}\n  sourceNamespace: shop\n  gateways: [shop/edge, mesh]\n";
        assert_eq!(found(rule), Vec::<String>::new());
    }

    #[test]
    fn each_malformed_condition_is_named() {
        let long = "a".repeat(REGEX_MAX + 1);
        let rule = format!(
            "match:\n- uri: {{exact: /a, prefix: /b}}\n  headers: {{'X User': {{exact: a}}, x-b: {{prefix: ''}}}}\n\
             \x20 authority: {{regex: ''}}\n  queryParams: {{q: {{regex: '{long}'}}}}\n  port: 0\n\
             \x20 sourceNamespace: Shop_1\n  gateways: [a/b/c]\n"
        );
        assert_eq!(
            found(&rule),
            [
                "r.match[0].headers.X User: header name \"X User\" is not a valid header name",
                "r.match[0].headers.x-b.prefix: prefix string match should not be empty",
                "r.match[0].uri: set only one of exact, prefix or regex",
                "r.match[0].authority.regex: regex string match should not be empty",
                "r.match[0].queryParams.q.regex: regex is too large (1025 characters, at most 1024)",
                "r.match[0].port: port number 0 must be in the range 1..65535",
                "r.match[0].gateways[0]: invalid value for gateway name: \"b/c\"",
                "r.match[0].sourceNamespace: sourceNamespace \"Shop_1\" is not a valid namespace name",
            ]
        );
    }
}
