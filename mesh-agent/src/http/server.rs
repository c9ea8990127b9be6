//! Serving one HTTP connection: hyper (HTTP/1.1 with keep-alive and upgrades, or HTTP/2) hands
//! each request to the connection's request stack, until the connection closes or the agent
//! drains it.

use std::error::Error;

use hyper::body::{Body as HttpBody, Incoming};
use hyper::rt::{Read, Write};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::body::{boxed, Body};
use super::stack::RequestStack;
use crate::drain::Drain;

fn boxed_request(request: Request<Incoming>) -> Request<Body> {
    request.map(boxed)
}

/// Serves HTTP/1.1 or HTTP/2 (hyper tells them apart) on `client` until it closes.
///
/// Without Nagle's delay: a proxied response goes out as its head, then its body as the
/// upstream delivers it; holding the body back until the head is acknowledged costs a round
/// trip (or a delayed ACK) on every response.
pub async fn serve(client: TcpStream, stack: RequestStack, drain: &Drain) {
    if let Err(error) = client.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP client connection");
    }
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        stack.clone().oneshot(boxed_request(request))
    });
    if let Err(error) = serve_drained(TokioIo::new(client), service, drain).await {
        tracing::debug!(%error, "http connection ended with an error");
    }
}

/// Serves `service` on `io` until the connection closes. Once the agent drains, hyper shuts the
/// connection down gracefully: an idle HTTP/1 connection closes, one with a request in flight
/// answers it with `Connection: close` then closes; HTTP/2 sends GOAWAY and finishes the
/// streams already open.
pub async fn serve_drained<I, S, B>(
    io: I,
    service: S,
    drain: &Drain,
) -> Result<(), Box<dyn Error + Send + Sync>>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn Error + Send + Sync>>,
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
    I: Read + Write + Unpin + Send + 'static,
{
    let server = auto::Builder::new(TokioExecutor::new());
    let connection = server.serve_connection_with_upgrades(io, service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => return ended,
        () = drain.draining() => {}
    }
    connection.as_mut().graceful_shutdown();
    connection.await
}
