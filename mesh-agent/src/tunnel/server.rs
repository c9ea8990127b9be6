//! The destination side of the tunnel, for one accepted connection: TLS with the pod's
//! certificate (a client certificate of the mesh's roots required, and of the pod's trust
//! domain), then HTTP/2, each `CONNECT ip:port` handed to the inbound side, which connects to
//! the app and only then lets the stream be answered 200 — or refuses it (401 denied by
//! policy, 503 the app unreachable, 400 not addressed to this pod).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::stream::TunnelStream;
use super::{peer_identity, TunnelError, L7_REPORTER, SOURCE_REPORTS};
use crate::drain::Drain;
use crate::identity::Identity;

/// One CONNECT as the tunnel server received it.
#[derive(Debug)]
pub struct TunnelRequest {
    /// The peer's identity, from its verified certificate.
    pub peer: Identity,
    /// The `:authority`: the address the source dialled (`ip:port`).
    pub authority: SocketAddr,
    /// The request's headers (`baggage`, `forwarded`, `traceparent`, [`L7_REPORTER`]).
    pub headers: http::HeaderMap,
}

/// Carries an accepted stream to its end.
pub type StreamTask =
    Box<dyn FnOnce(TunnelStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The inbound side's answer to a CONNECT.
pub enum TunnelAnswer {
    /// Answered 200; the task carries the stream.
    Accept(StreamTask),
    /// Answered 200 with `mesh-l7-reporter: source` ([`L7_REPORTER`]), accepting the source's
    /// offer: the task carries the stream at L4, the source reports its requests for both sides.
    AcceptAtL4(StreamTask),
    /// Answered with this status, nothing carried.
    Refuse(StatusCode),
}

/// Serves the tunnel on `tcp` with `config` (the pod's certificate): the peer must be of
/// `trust_domain`; each CONNECT is answered as `on_connect` decides. Once the agent drains,
/// GOAWAY: the streams open finish, the source opens new ones elsewhere (a successor agent).
pub async fn serve<F, Fut>(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    trust_domain: &str,
    drain: &Drain,
    on_connect: F,
) -> Result<(), TunnelError>
where
    F: Fn(TunnelRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = TunnelAnswer> + Send + 'static,
{
    let address = tcp.peer_addr().map_err(|source| TunnelError::Connect {
        address: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let _ = tcp.set_nodelay(true);
    let tls = TlsAcceptor::from(config)
        .accept(tcp)
        .await
        .map_err(|source| TunnelError::Handshake { address, source })?;
    let leaf = tls.get_ref().1.peer_certificates().and_then(<[_]>::first);
    let leaf = leaf.ok_or_else(|| TunnelError::Certificate("no client certificate".into()))?;
    let peer = peer_identity(leaf)?;
    if peer.trust_domain != trust_domain {
        return Err(TunnelError::Certificate(format!(
            "peer {peer} is not of the trust domain {trust_domain}"
        )));
    }
    let service = service_fn(move |request| {
        let (peer, on_connect) = (peer.clone(), on_connect.clone());
        async move { Ok::<_, std::convert::Infallible>(answer(request, peer, on_connect).await) }
    });
    let builder = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .clone();
    let connection = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return Ok(served?),
        () = drain.draining() => connection.as_mut().graceful_shutdown(),
    }
    Ok(connection.await?)
}

/// One request: a CONNECT to an `ip:port` is handed to `on_connect`; anything else refused.
async fn answer<F, Fut>(
    mut request: Request<Incoming>,
    peer: Identity,
    on_connect: F,
) -> Response<Empty<Bytes>>
where
    F: Fn(TunnelRequest) -> Fut,
    Fut: Future<Output = TunnelAnswer>,
{
    if request.method() != Method::CONNECT {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let authority = request.uri().authority().map(|a| a.as_str().parse());
    let Some(Ok(authority)) = authority else {
        tracing::debug!(uri = %request.uri(), "CONNECT authority is not ip:port");
        return status(StatusCode::BAD_REQUEST);
    };
    let headers = std::mem::take(request.headers_mut());
    let tunnel_request = TunnelRequest {
        peer,
        authority,
        headers,
    };
    let (task, at_l4) = match on_connect(tunnel_request).await {
        TunnelAnswer::Refuse(code) => return status(code),
        TunnelAnswer::Accept(task) => (task, false),
        TunnelAnswer::AcceptAtL4(task) => (task, true),
    };
    // Only the upgrade goes into the stream's task, not the CONNECT request's parts.
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => task(TunnelStream::new(upgraded, None)).await,
            Err(error) => tracing::debug!(%error, "CONNECT stream ended before 200"),
        }
    });
    let mut response = status(StatusCode::OK);
    if at_l4 {
        let accepted = HeaderValue::from_static(SOURCE_REPORTS);
        response.headers_mut().insert(L7_REPORTER, accepted);
    }
    response
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}
