//! One request through the pool: pointed at its endpoint, its hop-by-hop headers (and the
//! answer's) dropped, sent on a pooled connection whose use is counted (a connection that
//! reached `maxRequestsPerConnection` or `maxConnectionDuration` is not handed out again), its
//! failure told apart as an overflow (`UO`), a connect failure (`UF`) or a reset (`UC`).

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::header::{HeaderValue, HOST};
use hyper::http::Extensions;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::client::legacy::connect::{capture_connection, CaptureConnection};
use hyper_util::client::legacy::Error as ClientError;

use super::connection::{ConnectionUse, InFlight};
use super::Clients;
use crate::errors::BoxError;
use crate::errors::{ConnectFailed, NoHealthyUpstream, UpstreamReset};
use crate::http::body::{boxed, Body};
use crate::http::target::RouteTarget;
use crate::http::{hop_by_hop, upgrade};
use crate::lb::Endpoint;
use crate::resilience::breaker::UpstreamProtocol;
use crate::resilience::{DestinationPool, Overflow};

/// Sends `request` to its [`Endpoint`] on one of `clients`' connections, counting its use
/// of the connection against `limits`.
pub(super) async fn send(
    clients: Arc<Clients>,
    limits: Option<DestinationPool>,
    mut request: Request<Body>,
) -> Result<Response<Body>, BoxError> {
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
    let websocket = hop_by_hop::is_websocket_upgrade(request.headers());
    hop_by_hop::strip(request.headers_mut(), websocket);
    let downstream_upgrade = upgrade::take_request_upgrade(&mut request);
    let http2;
    let client = match upstream {
        UpstreamProtocol::Http1 => &clients.http1,
        UpstreamProtocol::Http2 => {
            http2 = clients.http2(endpoint);
            &http2
        }
    };
    let (mut response, in_flight) = match limits {
        None => (client.request(request).await.map_err(upstream_error)?, None),
        Some(limits) => {
            let captured = capture_connection(&mut request);
            let sent = client.request(request);
            let (result, in_flight) = counted(sent, captured, &limits).await;
            (result.map_err(upstream_error)?, in_flight)
        }
    };
    let switching = websocket && response.status() == StatusCode::SWITCHING_PROTOCOLS;
    hop_by_hop::strip(response.headers_mut(), switching);
    if let Some(downstream) = downstream_upgrade {
        upgrade::splice_if_switching(downstream, &mut response);
    }
    Ok(response.map(|body| match in_flight {
        None => boxed(body),
        Some(in_flight) => boxed(InFlightBody::new(body, in_flight)),
    }))
}

/// Awaits `sent` while counting the request on the connection hyper picked for it, as soon as
/// it is picked: a connection worn out by this request is poisoned before it goes back to
/// the idle set.
async fn counted<F, T>(
    sent: F,
    mut captured: CaptureConnection,
    limits: &DestinationPool,
) -> (Result<T, ClientError>, Option<InFlight>)
where
    F: std::future::Future<Output = Result<T, ClientError>>,
{
    tokio::pin!(sent);
    let mut in_flight = None;
    let mut counting = true;
    loop {
        tokio::select! {
            biased;
            started = start_on(&mut captured, limits), if counting => {
                in_flight = started;
                counting = false;
            }
            result = &mut sent => return (result, in_flight),
        }
    }
}

/// Counts a request on the connection `captured` names, once hyper has picked one.
async fn start_on(captured: &mut CaptureConnection, limits: &DestinationPool) -> Option<InFlight> {
    let connected = captured.wait_for_connection_metadata().await;
    let connected = connected.as_ref()?;
    let mut extras = Extensions::new();
    connected.get_extras(&mut extras);
    let (in_flight, reusable) = extras.get::<ConnectionUse>()?.start(limits.policy());
    if !reusable {
        connected.poison();
    }
    Some(in_flight)
}

/// The mesh's error for a failed upstream exchange: the overflow or the mesh's connect
/// marker inside, so the rescue and retry layers see them.
fn upstream_error(error: ClientError) -> BoxError {
    if let Some(overflow) = overflow_in(&error) {
        return Box::new(overflow);
    }
    match error.is_connect() {
        true => ConnectFailed(error.into()).into(),
        false => UpstreamReset(error.into()).into(),
    }
}

fn overflow_in(error: &(dyn StdError + 'static)) -> Option<Overflow> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(overflow) = e.downcast_ref::<Overflow>() {
            return Some(*overflow);
        }
        cause = e.source();
    }
    None
}

/// Points `request` at `endpoint`, keeping the authority the client used in `Host` (HTTP/1.1)
/// or in the URI (HTTP/2: it becomes `:authority`; the client is pinned to the endpoint).
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
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
    let authority = match (upstream, host) {
        (UpstreamProtocol::Http2, Some(host)) => host.to_string(),
        _ => endpoint.to_string(),
    };
    *request.uri_mut() = format!("http://{authority}{path}").parse()?;
    *request.version_mut() = match upstream {
        UpstreamProtocol::Http1 => Version::HTTP_11,
        UpstreamProtocol::Http2 => Version::HTTP_2,
    };
    Ok(())
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight on its connection until it ends.
    struct InFlightBody<B> {
        #[pin]
        body: B,
        in_flight: Option<InFlight>,
    }
}

impl<B> InFlightBody<B> {
    fn new(body: B, in_flight: InFlight) -> Self {
        Self {
            body,
            in_flight: Some(in_flight),
        }
    }
}

impl<B: http_body::Body> http_body::Body for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.body.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.in_flight.take();
        }
        std::task::Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
