//! The connection pool, innermost: upstream connections per endpoint, opened the way the L4
//! path opens them (inside the pod's netns, marked), kept alive and reused across requests and
//! client connections. HTTP/1.1 keeps a set of idle connections per endpoint; HTTP/2
//! multiplexes over one.

use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tower::Service;

use super::balance::Endpoint;
use super::body::{boxed, Body, BoxError};
use super::errors::{ConnectFailed, NoHealthyUpstream, UpstreamReset};
use super::route::{RouteTarget, UpstreamProtocol};
use super::upgrade;
use crate::netns::Netns;
use crate::proxy::socket::connect;
use crate::proxy::UpstreamSockets;

/// How long an idle upstream connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Opens upstream connections inside one pod's netns, marked: a hyper connector.
#[derive(Clone)]
pub struct PodConnector {
    netns: Netns,
    sockets: UpstreamSockets,
}

impl Service<Uri> for PodConnector {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, std::io::Result<TokioIo<TcpStream>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let (netns, sockets) = (self.netns.clone(), self.sockets.clone());
        Box::pin(async move {
            let addr = endpoint_of(&uri)?;
            Ok(TokioIo::new(connect(&netns, addr, &sockets).await?))
        })
    }
}

fn endpoint_of(uri: &Uri) -> std::io::Result<SocketAddr> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an endpoint uri");
    let authority = uri.authority().ok_or_else(invalid)?;
    authority.as_str().parse().map_err(|_| invalid())
}

/// The upstream pools of one pod (one listener): HTTP/1.1 and HTTP/2. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    http1: Client<PodConnector, Body>,
    http2: Client<PodConnector, Body>,
}

impl Pool {
    /// Pools whose connections are opened inside `netns` with `sockets`' settings.
    pub fn new(netns: Netns, sockets: UpstreamSockets) -> Self {
        let connector = PodConnector { netns, sockets };
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(IDLE_TIMEOUT);
        let http1 = builder.build(connector.clone());
        let http2 = builder.http2_only(true).build(connector);
        Self { http1, http2 }
    }

    async fn send(self, mut request: Request<Body>) -> Result<Response<Body>, BoxError> {
        let endpoint = request
            .extensions()
            .get::<Endpoint>()
            .ok_or(NoHealthyUpstream)?
            .0;
        let upstream = request
            .extensions()
            .get::<RouteTarget>()
            .map_or(UpstreamProtocol::Http1, |t| t.upstream);
        address_to(&mut request, endpoint, upstream)?;
        let downstream_upgrade = upgrade::take_request_upgrade(&mut request);
        let client = match upstream {
            UpstreamProtocol::Http1 => &self.http1,
            UpstreamProtocol::Http2 => &self.http2,
        };
        let mut response = client.request(request).await.map_err(|error| -> BoxError {
            match error.is_connect() {
                // The mesh's marker inside, so retries on `connect-failure` see it.
                true => {
                    ConnectFailed(Box::new(crate::resilience::ConnectFailed(error.into()))).into()
                }
                false => UpstreamReset(error.into()).into(),
            }
        })?;
        if let Some(downstream) = downstream_upgrade {
            upgrade::splice_if_switching(downstream, &mut response);
        }
        Ok(response.map(boxed))
    }
}

/// Points `request` at `endpoint`, keeping the authority the client used in `Host`.
fn address_to(
    request: &mut Request<Body>,
    endpoint: SocketAddr,
    upstream: UpstreamProtocol,
) -> Result<(), BoxError> {
    if let Some(authority) = request.uri().authority() {
        if !request.headers().contains_key(HOST) {
            let host = HeaderValue::from_str(authority.as_str())?;
            request.headers_mut().insert(HOST, host);
        }
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = format!("http://{endpoint}{path}").parse()?;
    *request.version_mut() = match upstream {
        UpstreamProtocol::Http1 => Version::HTTP_11,
        UpstreamProtocol::Http2 => Version::HTTP_2,
    };
    Ok(())
}

impl Service<Request<Body>> for Pool {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}
