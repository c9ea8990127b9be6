//! Connection level: a captured connection that speaks HTTP is served by hyper (HTTP/1.1 with
//! keep-alive and upgrades, or HTTP/2) and each of its requests goes through the request stack;
//! any other connection is handed back for L4 forwarding.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::body::{boxed, Body};
use super::pool::Pool;
use super::route::Direction;
use super::stack::{request_stack, RequestStack};
use super::telemetry::Peers;
use crate::facts::Reporter;
use crate::net::ProxiedPod;
use crate::protocol::{self, Declared, Protocol};
use crate::proxy::ProxyInputs;
use crate::snapshot::Snapshot;

/// Serves `client` as HTTP when its port is declared HTTP or its first bytes are; otherwise
/// (declared TCP, detected opaque, or nothing sent within the window) gives it back untouched.
pub async fn serve_if_http(
    client: TcpStream,
    peer: SocketAddr,
    direction: Direction,
    pod: &ProxiedPod,
    inputs: &ProxyInputs,
    pool: &Pool,
) -> Option<TcpStream> {
    let snapshot = inputs.config.snapshot();
    let declared = declared_protocol(&snapshot, direction);
    let window = inputs.http.detect_window;
    match protocol::choose(&client, declared, window).await {
        Ok(Protocol::Http1 | Protocol::Http2) => {}
        Ok(Protocol::Tcp) | Err(_) => return Some(client),
    }
    let peers = peers(&snapshot, direction, pod, peer);
    let config = inputs.config.clone();
    let stack = request_stack(&inputs.http, config, peers, direction, pool.clone());
    serve(client, stack).await;
    None
}

/// The protocol declared for the Service port the connection is addressed to.
fn declared_protocol(snapshot: &Snapshot, direction: Direction) -> Option<Declared> {
    let (_, port) = match direction {
        Direction::Outbound { original_dst } => snapshot.service_at(original_dst),
        Direction::Inbound {
            original_dst,
            pod_ip,
        } => snapshot.service_of_endpoint(SocketAddr::new(pod_ip, original_dst.port())),
        Direction::Gateway { .. } => None,
    }?;
    Declared::of_port(port.protocol)
}

/// Who talks to whom, as telemetry reports it from this side.
fn peers(snapshot: &Snapshot, direction: Direction, pod: &ProxiedPod, peer: SocketAddr) -> Peers {
    match direction {
        Direction::Outbound { .. } | Direction::Gateway { .. } => Peers {
            reporter: Reporter::source,
            source: Some(snapshot.pod_workload(&pod)),
            destination: None,
            pod_ip: Some(pod.ip),
            downstream: Some(peer),
        },
        Direction::Inbound { .. } => Peers {
            reporter: Reporter::destination,
            source: snapshot.workload(peer.ip()).cloned(),
            destination: Some(snapshot.pod_workload(&pod)),
            pod_ip: Some(pod.ip),
            downstream: Some(peer),
        },
    }
}

fn boxed_request(request: Request<Incoming>) -> Request<Body> {
    request.map(boxed)
}

/// Serves HTTP/1.1 or HTTP/2 (hyper tells them apart) on `client` until it closes.
///
/// Without Nagle's delay: a proxied response goes out as its head, then its body as the
/// upstream delivers it; holding the body back until the head is acknowledged costs a round
/// trip (or a delayed ACK) on every response.
async fn serve(client: TcpStream, stack: RequestStack) {
    if let Err(error) = client.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP client connection");
    }
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        stack.clone().oneshot(boxed_request(request))
    });
    let server = auto::Builder::new(TokioExecutor::new());
    let connection = server.serve_connection_with_upgrades(TokioIo::new(client), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "http connection ended with an error");
    }
}
