//! Rules that answer instead of forwarding: `redirect` (a 301 by default, with a `Location`
//! built from the request and the rule) and `directResponse` (a fixed status and body).

use base64::Engine;
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};

use super::body::{empty, full, Body};
use crate::resources::{DirectResponse, Redirect};
use crate::routing::MatchInput;

/// The answer of a rule's `redirect` to the request `facts` (its code was checked at load).
pub fn redirect(rule: &Redirect, facts: &MatchInput<'_>) -> Response<Body> {
    let status = rule
        .redirect_code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::MOVED_PERMANENTLY);
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    if let Ok(location) = HeaderValue::from_str(&location(rule, facts)) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// The `Location` of a redirect: each part from the rule when it sets it, else the request's.
pub fn location(rule: &Redirect, facts: &MatchInput<'_>) -> String {
    let scheme = rule
        .scheme
        .as_deref()
        .or(facts.uri.scheme_str())
        .unwrap_or("http");
    let authority = rule
        .authority
        .as_deref()
        .or(facts.authority())
        .unwrap_or("");
    let (host, request_port) = split_port(authority);
    let port = match (rule.port, rule.derive_port.as_deref()) {
        (Some(port), _) => Some(port.to_string()),
        (None, Some("FROM_PROTOCOL_DEFAULT")) => None,
        (None, Some("FROM_REQUEST_PORT")) => split_port(facts.authority().unwrap_or("")).1,
        (None, _) => request_port,
    };
    let path = match &rule.uri {
        Some(uri) if uri.contains('?') => uri.clone(),
        Some(uri) => with_query(uri, facts.uri.query()),
        None => with_query(facts.uri.path(), facts.uri.query()),
    };
    match port {
        Some(port) => format!("{scheme}://{host}:{port}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

fn split_port(authority: &str) -> (&str, Option<String>) {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => (host, Some(port.to_string())),
        _ => (authority, None),
    }
}

fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

/// The answer of a rule's `directResponse` (its status was checked at load).
pub fn direct_response(rule: &DirectResponse) -> Response<Body> {
    let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::OK);
    let body = rule.body.clone().unwrap_or_default();
    let (bytes, content_type) = match (body.string, body.bytes) {
        (Some(text), _) => (Some(text.into_bytes()), "text/plain"),
        (None, Some(encoded)) => (
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok(),
            "application/octet-stream",
        ),
        (None, None) => (None, ""),
    };
    let mut response = Response::new(bytes.clone().map_or_else(empty, full));
    *response.status_mut() = status;
    if bytes.is_some() {
        let value = HeaderValue::from_static(content_type);
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use hyper::{HeaderMap, Method, Uri};

    use super::*;

    fn located(rule: &str, uri: &str, host: &str) -> (u16, String) {
        let rule: Redirect = serde_yaml::from_str(rule).unwrap();
        let (method, uri) = (Method::GET, uri.parse::<Uri>().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        let facts = MatchInput {
            method: &method,
            uri: &uri,
            headers: &headers,
            port: 80,
            source_labels: None,
            source_namespace: None,
            gateway: "mesh",
        };
        let response = redirect(&rule, &facts);
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        (response.status().as_u16(), location)
    }

    #[test]
    fn redirect_table() {
        let cases = [
            (
                "{uri: /v1/bookRatings}",
                "/ratings?x=1",
                "web.shop",
                301,
                "http://web.shop/v1/bookRatings?x=1",
            ),
            (
                "{authority: new.shop}",
                "/a",
                "web.shop:8080",
                301,
                "http://new.shop/a",
            ),
            (
                "{uri: /b, redirectCode: 302}",
                "/a",
                "web.shop",
                302,
                "http://web.shop/b",
            ),
            (
                "{scheme: https, port: 8443}",
                "/a",
                "web.shop:80",
                301,
                "https://web.shop:8443/a",
            ),
            (
                "{derivePort: FROM_PROTOCOL_DEFAULT}",
                "/a",
                "web.shop:80",
                301,
                "http://web.shop/a",
            ),
            (
                "{authority: x, derivePort: FROM_REQUEST_PORT}",
                "/a",
                "web:81",
                301,
                "http://x:81/a",
            ),
            (
                "{uri: '/n?only=1'}",
                "/a?x=1",
                "web",
                301,
                "http://web/n?only=1",
            ),
        ];
        for (rule, uri, host, status, location) in cases {
            assert_eq!(
                located(rule, uri, host),
                (status, location.to_string()),
                "{rule}"
            );
        }
    }

    async fn body_of(rule: &str) -> (u16, Option<String>, Vec<u8>) {
        let rule: DirectResponse = serde_yaml::from_str(rule).unwrap();
        let response = direct_response(&rule);
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, body.to_vec())
    }

    #[tokio::test]
    async fn direct_responses_answer_status_and_body() {
        let text = body_of("{status: 503, body: {string: unavailable}}").await;
        assert_eq!(
            text,
            (503, Some("text/plain".into()), b"unavailable".to_vec())
        );
        let bytes = body_of("{status: 200, body: {bytes: aGVsbG8=}}").await;
        assert_eq!(bytes.2, b"hello");
        let bare = body_of("{status: 204}").await;
        assert_eq!(bare, (204, None, Vec::new()));
    }
}
