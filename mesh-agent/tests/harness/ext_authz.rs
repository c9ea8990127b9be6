//! External authorizers for CUSTOM policies, written from Envoy's ext_authz protocols alone
//! (their messages declared here from Envoy's protos, apart from the agent's): an HTTP one and a
//! gRPC one (`envoy.service.auth.v3.Authorization/Check`). Both allow a request whose check
//! carries `x-ext-authz: allow` — adding `x-user: alice` for the app and `x-checked: yes` for
//! the client — and deny the others `403` with `x-ext-authz-check-result: denied` and a body
//! naming the path they were asked about; each records those paths. The gRPC one also answers
//! an opaque TCP connection's check (recorded `tcp from <principal>`) as the test sets.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::server::UnaryService;

/// A running authorizer.
pub struct Authorizer {
    pub address: SocketAddr,
    asked: Mutex<Vec<String>>,
    /// Whether the gRPC authorizer allows an opaque TCP connection's check (no HTTP request).
    pub allow_connections: AtomicBool,
}

impl Authorizer {
    /// The paths asked about, in order (the HTTP check's path; the gRPC check's `path`).
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    fn record(&self, path: &str) {
        self.asked.lock().unwrap().push(path.to_string());
    }
}

async fn listen(ip: &str) -> (tokio::net::TcpListener, Arc<Authorizer>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let authorizer = Arc::new(Authorizer {
        address: listener.local_addr().unwrap(),
        asked: Mutex::default(),
        allow_connections: AtomicBool::new(false),
    });
    (listener, authorizer)
}

/// The HTTP authorizer on `ip` (any port).
pub async fn http_authorizer(ip: &str) -> Arc<Authorizer> {
    let (listener, authorizer) = listen(ip).await;
    let serving = authorizer.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let authorizer = serving.clone();
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let path = request.uri().to_string();
                authorizer.record(&path);
                let allow = request
                    .headers()
                    .get("x-ext-authz")
                    .is_some_and(|v| v == "allow");
                let response = match allow {
                    true => Response::builder()
                        .header("x-user", "alice")
                        .header("x-checked", "yes")
                        .header("x-other", "kept-back"),
                    false => Response::builder()
                        .status(403)
                        .header("x-ext-authz-check-result", "denied"),
                };
                let body = if allow {
                    String::new()
                } else {
                    format!("denied by ext_authz for {path}")
                };
                async move { Ok::<_, Infallible>(response.body(Full::new(Bytes::from(body))).unwrap()) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
    authorizer
}

/// The gRPC authorizer on `ip` (any port).
pub async fn grpc_authorizer(ip: &str) -> Arc<Authorizer> {
    let (listener, authorizer) = listen(ip).await;
    let serving = authorizer.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let authorizer = serving.clone();
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let check = Check(authorizer.clone());
                async move {
                    let codec = tonic_prost::ProstCodec::default();
                    Ok::<_, Infallible>(tonic::server::Grpc::new(codec).unary(check, request).await)
                }
            });
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
    authorizer
}

struct Check(Arc<Authorizer>);

impl UnaryService<CheckRequest> for Check {
    type Response = CheckResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<CheckResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<CheckRequest>) -> Self::Future {
        let attributes = request.into_inner().attributes.unwrap_or_default();
        let Some(http) = attributes.request.and_then(|r| r.http) else {
            return connection_check(&self.0, attributes.source.unwrap_or_default());
        };
        self.0.record(&http.path);
        let allow = http
            .headers
            .get("x-ext-authz")
            .is_some_and(|v| v == "allow");
        let header = |key: &str, value: &str| HeaderValueOption {
            header: Some(HeaderValue {
                key: key.into(),
                value: value.into(),
            }),
        };
        let response = match allow {
            true => CheckResponse {
                status: Some(RpcStatus { code: 0 }),
                ok_response: Some(OkHttpResponse {
                    headers: vec![header("x-user", "alice")],
                    headers_to_remove: vec!["x-ext-authz".into()],
                    response_headers_to_add: vec![header("x-checked", "yes")],
                }),
                ..CheckResponse::default()
            },
            false => CheckResponse {
                status: Some(RpcStatus { code: 7 }),
                denied_response: Some(DeniedHttpResponse {
                    status: Some(HttpStatus { code: 403 }),
                    headers: vec![header("x-ext-authz-check-result", "denied")],
                    body: format!("denied by ext_authz for {}", http.path),
                }),
                ..CheckResponse::default()
            },
        };
        Box::pin(async move { Ok(tonic::Response::new(response)) })
    }
}

/// A TCP connection's check: recorded as `tcp from <principal>`, allowed or denied (code 7)
/// as the test says.
fn connection_check(
    authorizer: &Authorizer,
    source: Peer,
) -> BoxFuture<'static, Result<tonic::Response<CheckResponse>, tonic::Status>> {
    authorizer.record(&format!("tcp from {}", source.principal));
    let allow = authorizer.allow_connections.load(Ordering::SeqCst);
    let code = if allow { 0 } else { 7 };
    let response = CheckResponse {
        status: Some(RpcStatus { code }),
        ..CheckResponse::default()
    };
    Box::pin(async move { Ok(tonic::Response::new(response)) })
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckRequest {
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<AttributeContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeContext {
    #[prost(message, optional, tag = "1")]
    pub source: Option<Peer>,
    #[prost(message, optional, tag = "4")]
    pub request: Option<AttributeRequest>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Peer {
    #[prost(string, tag = "4")]
    pub principal: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeRequest {
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequest>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRequest {
    #[prost(string, tag = "2")]
    pub method: String,
    #[prost(map = "string, string", tag = "3")]
    pub headers: HashMap<String, String>,
    #[prost(string, tag = "4")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<RpcStatus>,
    #[prost(message, optional, tag = "2")]
    pub denied_response: Option<DeniedHttpResponse>,
    #[prost(message, optional, tag = "3")]
    pub ok_response: Option<OkHttpResponse>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeniedHttpResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<HttpStatus>,
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    #[prost(string, tag = "3")]
    pub body: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OkHttpResponse {
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    #[prost(string, repeated, tag = "5")]
    pub headers_to_remove: Vec<String>,
    #[prost(message, repeated, tag = "6")]
    pub response_headers_to_add: Vec<HeaderValueOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValueOption {
    #[prost(message, optional, tag = "1")]
    pub header: Option<HeaderValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}
