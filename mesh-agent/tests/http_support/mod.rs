//! Shared pieces of the HTTP path's in-process tests: tiny hyper upstreams that count their
//! connections, an outbound proxy for a client pod, and clients speaking through it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// A response body for the test upstream.
pub type TestBody = BoxBody<Bytes, Infallible>;

/// An HTTP/1.1 + HTTP/2 upstream named `name` on `addr`; the counter holds its accepted
/// connections. Paths:
/// `/status/N` answers N; `/echo` echoes the body; `/grpc` answers a gRPC-like stream with
/// trailers `grpc-status: 7`; `/ws` upgrades and echoes bytes; `/authority` answers the request
/// target's authority (HTTP/2 `:authority`; empty for HTTP/1.1 origin-form); anything else
/// answers `<name> <host>`.
pub async fn upstream(addr: SocketAddr, name: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| answer(r, name));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (bound, connections)
}

async fn answer(
    mut request: Request<Incoming>,
    name: &str,
) -> Result<Response<TestBody>, Infallible> {
    let path = request.uri().path().to_string();
    if let Some(code) = path.strip_prefix("/status/") {
        let status = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return Ok(with_status(status, full(format!("{name} {status}"))));
    }
    match path.as_str() {
        "/echo" => {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Ok(Response::new(full(body)))
        }
        "/grpc" => Ok(grpc_answer()),
        "/ws" => Ok(websocket_echo(&mut request)),
        "/authority" => {
            let authority = request.uri().authority().map(|a| a.to_string());
            Ok(Response::new(full(authority.unwrap_or_default())))
        }
        _ => {
            let host = request
                .headers()
                .get("host")
                .map(|h| h.to_str().unwrap().to_string())
                .or_else(|| request.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            Ok(Response::new(full(format!("{name} {host}"))))
        }
    }
}

fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).boxed()
}

fn with_status(status: StatusCode, body: TestBody) -> Response<TestBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn grpc_answer() -> Response<TestBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "7".parse().unwrap());
    trailers.insert("grpc-message", "denied".parse().unwrap());
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(futures::stream::iter(frames)).boxed();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    response
}

fn websocket_echo(request: &mut Request<Incoming>) -> Response<TestBody> {
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let mut io = TokioIo::new(upgrade.await.unwrap());
        let (mut read, mut write) = tokio::io::split(&mut io);
        let _ = tokio::io::copy(&mut read, &mut write).await;
    });
    let mut response = with_status(StatusCode::SWITCHING_PROTOCOLS, full(""));
    let headers = response.headers_mut();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    response
}

/// The `web` Service (10.96.0.10:80, undeclared port) over pods 127.0.0.2 and 127.0.0.3 on
/// `port`; `api` (10.96.0.11:80, port name `grpc-api`) over 127.0.0.4; `single` (10.96.0.12:80)
/// over 127.0.0.5 only; `empty` (10.96.0.13:80) with no endpoint; the client pod `sleep-0`.
pub fn cluster_yaml(port: u16) -> String {
    let service = |name: &str, ip: &str, port_name: &str, app: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
             spec:\n  clusterIP: {ip}\n  selector: {{app: {app}}}\n\
             \x20 ports: [{{name: {port_name}, port: 80, targetPort: {port}}}]\n---\n"
        )
    };
    let pod = |name: &str, app: &str, version: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, \
             labels: {{app: {app}, version: {version}}}}}\nstatus: {{podIP: {ip}}}\n---\n"
        )
    };
    [
        service("web", "10.96.0.10", "web", "web"),
        service("api", "10.96.0.11", "grpc-api", "api"),
        service("single", "10.96.0.12", "main", "single"),
        service("empty", "10.96.0.13", "main", "nobody"),
        pod("web-0", "web", "v1", "127.0.0.2"),
        pod("web-1", "web", "v2", "127.0.0.3"),
        pod("api-0", "api", "v1", "127.0.0.4"),
        pod("single-0", "single", "v1", "127.0.0.5"),
        pod("sleep-0", "sleep", "v1", "127.0.0.1"),
    ]
    .concat()
}
