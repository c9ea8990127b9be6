//! `rewrite` of a matched request, before it is forwarded: the uri (the part the rule matched
//! is replaced, as Envoy's `prefix_rewrite`; or `uriRegexRewrite`, every match of the
//! expression substituted) and the authority. The query string is kept.

use hyper::header::{HeaderValue, HOST};
use hyper::http::uri::{Authority, PathAndQuery};
use hyper::{Request, Uri};

use crate::resources::{HttpMatch, Rewrite};

/// Applies `rewrite` to `request`, which matched `matched` (None: the rule had no match).
pub fn apply<B>(rewrite: &Rewrite, matched: Option<&HttpMatch>, request: &mut Request<B>) {
    let path = request.uri().path().to_string();
    let new_path = match (&rewrite.uri, &rewrite.uri_regex_rewrite) {
        (Some(uri), _) => Some(replace_matched(&path, uri, matched)),
        (None, Some(regex)) => Some(regex.apply(&path)),
        (None, None) => None,
    };
    if let Some(new_path) = new_path {
        set_path(request, &new_path);
    }
    if let Some(authority) = &rewrite.authority {
        set_authority(request, authority);
    }
}

/// The path with the part the rule matched replaced by `with`: the prefix for a prefix match,
/// the whole path for an exact or regex match, and `/` when the rule matched no uri (Istio's
/// catch-all is a `/` prefix).
pub fn replace_matched(path: &str, with: &str, matched: Option<&HttpMatch>) -> String {
    let uri = matched.and_then(|m| m.uri.as_ref());
    let prefix_len = match uri {
        Some(s) if s.prefix.is_some() => s.prefix.as_ref().map_or(0, String::len),
        Some(s) if s.exact.is_some() || s.regex.is_some() => path.len(),
        _ => 1,
    };
    let rest = path.get(prefix_len.min(path.len())..).unwrap_or_default();
    format!("{with}{rest}")
}

fn set_path<B>(request: &mut Request<B>, path: &str) {
    let with_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let Ok(path_and_query) = with_query.parse::<PathAndQuery>() else {
        return;
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

fn set_authority<B>(request: &mut Request<B>, authority: &str) {
    let Ok(value) = HeaderValue::from_str(authority) else {
        return;
    };
    if request.uri().authority().is_some() {
        let mut parts = request.uri().clone().into_parts();
        parts.authority = authority.parse::<Authority>().ok();
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request.headers_mut().insert(HOST, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(rewrite: &str, matched: Option<&str>, uri: &str) -> (String, Option<String>) {
        let rewrite: Rewrite = serde_yaml::from_str(rewrite).unwrap();
        let matched: Option<HttpMatch> = matched.map(|m| serde_yaml::from_str(m).unwrap());
        let mut request = Request::get(uri).header(HOST, "web.shop").body(()).unwrap();
        apply(&rewrite, matched.as_ref(), &mut request);
        let host = request
            .headers()
            .get(HOST)
            .map(|h| h.to_str().unwrap().to_string());
        let uri = request.uri().to_string();
        (uri, host.filter(|h| h != "web.shop"))
    }

    #[test]
    fn rewrite_table() {
        let cases = [
            ("{uri: /v2}", Some("{uri: {prefix: /v1}}"), "/v1/items?x=1", "/v2/items?x=1"),
            ("{uri: /}", Some("{uri: {prefix: /api/}}"), "/api/items", "/items"),
            ("{uri: /new}", Some("{uri: {exact: /old}}"), "/old", "/new"),
            ("{uri: /new}", Some("{uri: {regex: '/o.*'}}"), "/old", "/new"),
            ("{uri: /v2}", None, "/items", "/v2items"),
            ("{uri: /v2}", Some("{headers: {a: {}}}"), "/items", "/v2items"),
            (
                "{uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1'}}",
                None,
                "/service/foo/v1/api?q=1",
                "/v1/api/instance/foo?q=1",
            ),
            ("{authority: api.shop}", None, "/a", "/a"),
        ];
        for (rewrite, matched, uri, want) in cases {
            assert_eq!(rewritten(rewrite, matched, uri).0, want, "{rewrite} {uri}");
        }
    }

    #[test]
    fn authority_rewrite_sets_host_and_the_http2_authority() {
        let (_, host) = rewritten("{authority: api.shop}", None, "/a");
        assert_eq!(host.as_deref(), Some("api.shop"));
        let (uri, host) = rewritten("{authority: api.shop:8080}", None, "http://web.shop/a");
        assert_eq!(
            (uri.as_str(), host.as_deref()),
            ("http://api.shop:8080/a", Some("api.shop:8080"))
        );
    }
}
