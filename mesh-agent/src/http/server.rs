//! Serving one HTTP connection: hyper (HTTP/1.1 with keep-alive and upgrades, or HTTP/2) hands
//! each request to the connection's request stack.

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::body::{boxed, Body};
use super::stack::RequestStack;

fn boxed_request(request: Request<Incoming>) -> Request<Body> {
    request.map(boxed)
}

/// Serves HTTP/1.1 or HTTP/2 (hyper tells them apart) on `client` until it closes.
///
/// Without Nagle's delay: a proxied response goes out as its head, then its body as the
/// upstream delivers it; holding the body back until the head is acknowledged costs a round
/// trip (or a delayed ACK) on every response.
pub async fn serve(client: TcpStream, stack: RequestStack) {
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
