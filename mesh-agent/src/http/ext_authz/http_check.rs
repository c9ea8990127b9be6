//! Envoy's HTTP ext_authz protocol: the check is the request's method to `pathPrefix` + its
//! path, with its `Host`, the headers `includeRequestHeadersInCheck` names and
//! `includeAdditionalHeadersInCheck`, and no body (`Content-Length: 0`). `200` allows (the
//! headers `headersToUpstreamOnAllow` / `headersToDownstreamOnAllow` name go on); a 5xx is a
//! failed check; any other status denies with the authorizer's status, body and the headers
//! `headersToDownstreamOnDeny` names (all of them when it is unset).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use super::{Allowed, CheckedRequest, Verdict};
use crate::errors::ExtAuthzDenied;
use crate::resources::ExtAuthzHttp;

/// The largest denial body passed on.
const DENIAL_BODY_LIMIT: usize = 64 * 1024;

/// Asks the authorizer at `address`; `Err` when no usable answer came.
pub(super) async fn check(
    client: &Client<HttpConnector, Full<Bytes>>,
    address: SocketAddr,
    provider: &ExtAuthzHttp,
    request: &CheckedRequest<'_>,
) -> Result<Verdict, String> {
    let response = client
        .request(check_request(address, provider, request)?)
        .await
        .map_err(|e| format!("asking {address}: {e}"))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(format!("{address} answered {status}"));
    }
    let headers = response.headers().clone();
    if status == StatusCode::OK {
        let pick = |names: &[String]| -> Vec<(HeaderName, HeaderValue)> {
            let picked = picked(&headers, names);
            picked.iter().map(|(n, v)| (n.clone(), v.clone())).collect()
        };
        let upstream = pick(&provider.headers_to_upstream_on_allow);
        return Ok(Verdict::Allow(Allowed {
            upstream: upstream.into_iter().map(|(n, v)| (n, v, false)).collect(),
            remove: Vec::new(),
            downstream: pick(&provider.headers_to_downstream_on_allow),
        }));
    }
    let body = Limited::new(response.into_body(), DENIAL_BODY_LIMIT)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let headers = match provider.headers_to_downstream_on_deny.as_slice() {
        [] => passed_on(&headers),
        names => picked(&headers, names),
    };
    Ok(Verdict::Deny(ExtAuthzDenied {
        status,
        headers,
        body,
        details: "ext_authz_denied",
    }))
}

fn check_request(
    address: SocketAddr,
    provider: &ExtAuthzHttp,
    request: &CheckedRequest<'_>,
) -> Result<Request<Full<Bytes>>, String> {
    let path = request.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://{address}{}{path}", provider.path_prefix);
    let mut check = Request::builder()
        .method(request.method.clone())
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("the check request: {e}"))?;
    let headers = check.headers_mut();
    *headers = picked(request.headers, &provider.include_request_headers_in_check);
    let host = request.uri.authority().map(|a| a.as_str());
    let host = host.and_then(|h| HeaderValue::from_str(h).ok());
    if let Some(host) = host.or_else(|| request.headers.get(HOST).cloned()) {
        headers.insert(HOST, host);
    }
    for (name, value) in &provider.include_additional_headers_in_check {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.insert(name, value);
        }
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(check)
}

/// The headers of `headers` whose names `names` match (exact, `prefix*`, `*suffix`; any case).
fn picked(headers: &HeaderMap, names: &[String]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if names
            .iter()
            .any(|pattern| name_matches(pattern, name.as_str()))
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Every header of a denial but those that describe the authorizer's own message framing.
fn passed_on(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for framing in [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "host",
    ] {
        out.remove(framing);
    }
    out
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(suffix), _) => name.ends_with(suffix),
        (_, Some(prefix)) => name.starts_with(prefix),
        _ => name == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_match_exactly_by_prefix_or_suffix_in_any_case() {
        let table = [
            ("X-User", "x-user", true),
            ("x-user", "x-user-id", false),
            ("x-*", "x-user-id", true),
            ("*-id", "x-user-id", true),
            ("*", "anything", true),
            ("authorization", "x-authorization", false),
        ];
        for (pattern, name, want) in table {
            assert_eq!(name_matches(pattern, name), want, "{pattern} {name}");
        }
    }
}
