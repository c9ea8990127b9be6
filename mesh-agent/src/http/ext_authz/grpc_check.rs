//! Envoy's gRPC ext_authz protocol: `Authorization/Check` with the request's attributes (peers'
//! addresses and principal, method, path, host, every header). Status code 0 allows, with the
//! `ok_response` edits; any other denies with `denied_response` (403 when it names no status).
//! A gRPC error is a failed check.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use tonic::transport::Channel;

use super::proto::{
    self, AttributeContext, AttributeRequest, CheckRequest, CheckResponse, HeaderValueOption,
    HttpRequest, Peer,
};
use super::{Allowed, CheckedRequest, Verdict};
use crate::errors::ExtAuthzDenied;

/// Asks the authorizer behind `channel` about `asking`; `Err` when no usable answer came.
pub(super) async fn ask(channel: Channel, asking: CheckRequest) -> Result<Verdict, String> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| format!("the authorizer is not ready: {e}"))?;
    let path = http::uri::PathAndQuery::from_static(proto::CHECK);
    let codec = tonic_prost::ProstCodec::default();
    let response: CheckResponse = grpc
        .unary(tonic::Request::new(asking), path, codec)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("Check failed: {status}"))?;
    Ok(verdict(response))
}

/// The attributes Envoy's HTTP ext_authz filter sends.
pub fn check_request(request: &CheckedRequest<'_>) -> CheckRequest {
    let path = request.uri.path_and_query().map_or("/", |p| p.as_str());
    let host = request.uri.authority().map(|a| a.to_string()).or_else(|| {
        let host = request.headers.get(hyper::header::HOST)?;
        host.to_str().ok().map(str::to_string)
    });
    let host = host.unwrap_or_default();
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in request.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| *v = format!("{v},{value}"))
            .or_insert_with(|| value.into_owned());
    }
    headers.insert(":authority".into(), host.clone());
    headers.insert(":method".into(), request.method.to_string());
    headers.insert(":path".into(), path.to_string());
    let id = headers.get("x-request-id").cloned().unwrap_or_default();
    let http = HttpRequest {
        id,
        method: request.method.to_string(),
        headers,
        path: path.to_string(),
        host,
        scheme: "http".into(),
        protocol: protocol(request.version).into(),
        ..HttpRequest::default()
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(peer(request.source, request.source_principal.clone())),
            destination: Some(peer(request.destination, None)),
            request: Some(AttributeRequest {
                time: Some(SystemTime::now().into()),
                http: Some(http),
            }),
            ..AttributeContext::default()
        }),
    }
}

pub(super) fn peer(address: SocketAddr, principal: Option<String>) -> Peer {
    Peer {
        address: Some(proto::Address {
            socket_address: Some(proto::SocketAddress {
                protocol: 0,
                address: address.ip().to_string(),
                port_value: address.port().into(),
            }),
        }),
        principal: principal.unwrap_or_default(),
        ..Peer::default()
    }
}

fn protocol(version: hyper::Version) -> &'static str {
    match version {
        hyper::Version::HTTP_2 => "HTTP/2",
        hyper::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

/// The authorizer's answer as the mesh applies it.
pub fn verdict(response: CheckResponse) -> Verdict {
    let code = response.status.as_ref().map_or(0, |s| s.code);
    if code == 0 {
        let ok = response.ok_response.unwrap_or_default();
        let remove = ok.headers_to_remove.iter();
        return Verdict::Allow(Allowed {
            upstream: options(&ok.headers).collect(),
            remove: remove
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect(),
            downstream: options(&ok.response_headers_to_add)
                .map(|(n, v, _)| (n, v))
                .collect(),
        });
    }
    let denied = response.denied_response.unwrap_or_default();
    let status = denied.status.map_or(0, |s| s.code);
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FORBIDDEN);
    let mut headers = HeaderMap::new();
    for (name, value, append) in options(&denied.headers) {
        match append {
            true => headers.append(name, value),
            false => headers.insert(name, value).is_some(),
        };
    }
    Verdict::Deny(ExtAuthzDenied {
        status,
        headers,
        body: Bytes::from(denied.body),
        details: "ext_authz_denied",
    })
}

/// `(name, value, append)` of each usable header option.
fn options(
    options: &[HeaderValueOption],
) -> impl Iterator<Item = (HeaderName, HeaderValue, bool)> + '_ {
    options.iter().filter_map(|option| {
        let header = option.header.as_ref()?;
        let name = HeaderName::from_bytes(header.key.as_bytes()).ok()?;
        let value = HeaderValue::from_str(&header.value).ok()?;
        Some((name, value, option.append.unwrap_or(false)))
    })
}
