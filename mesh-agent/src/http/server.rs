//! Serving one HTTP connection: hyper (HTTP/1.1 with keep-alive and upgrades, or HTTP/2) hands
//! each request to the connection's request stack, until the connection closes or the agent
//! drains it (HTTP/1 answers `Connection: close` from then on).

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body as HttpBody, Incoming};
use hyper::header::{HeaderValue, CONNECTION};
use hyper::service::Service;
use hyper::{Request, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::body::{boxed, Body};
use super::downstream::{Activity, ActivityIo, DownstreamTimeouts, InFlight, Overdue};
use super::stack::RequestStack;
use crate::drain::{Drain, Phase};

fn boxed_request(request: Request<Incoming>) -> Request<Body> {
    request.map(boxed)
}

/// Serves HTTP/1.1 or HTTP/2 (hyper tells them apart) on `client` until it closes.
///
/// Without Nagle's delay: a proxied response goes out as its head, then its body as the
/// upstream delivers it; holding the body back until the head is acknowledged costs a round
/// trip (or a delayed ACK) on every response.
pub async fn serve(
    client: TcpStream,
    stack: RequestStack,
    drain: &Drain,
    timeouts: DownstreamTimeouts,
) {
    if let Err(error) = client.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP client connection");
    }
    serve_stream(client, stack, drain, timeouts).await
}

/// [`serve`] on any client stream (a connection carried in the mTLS tunnel).
pub async fn serve_stream<I>(
    client: I,
    stack: RequestStack,
    drain: &Drain,
    timeouts: DownstreamTimeouts,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        stack.clone().oneshot(boxed_request(request))
    });
    if let Err(error) = serve_drained(client, service, drain, timeouts).await {
        tracing::debug!(%error, "http connection ended with an error");
    }
}

/// How long, once the agent drains, a kept-alive HTTP/1 connection may bring one more request
/// (answered with `Connection: close`) before hyper shuts it down. Closing a kept-alive
/// connection while it is idle races with the client's next request, which then fails on a
/// client that does not retry it; asking the client to close on a response does not race.
pub const KEEP_ALIVE_GRACE: Duration = Duration::from_secs(1);

/// Serves `service` on `io` until the connection closes. Once the agent drains, HTTP/1 answers
/// every request with `Connection: close` (the client reconnects, to a successor agent after a
/// hand-over), and after [`KEEP_ALIVE_GRACE`] (HTTP/2: at once) hyper shuts the connection down
/// gracefully: an idle HTTP/1 connection closes, one with a request in flight answers it then
/// closes; HTTP/2 sends GOAWAY and finishes the streams already open. A request head not
/// read within `timeouts.header_read` of its first byte cuts the connection; one idle for
/// `timeouts.idle` is shut down gracefully ([`super::downstream`]).
pub async fn serve_drained<I, S, B>(
    io: I,
    service: S,
    drain: &Drain,
    timeouts: DownstreamTimeouts,
) -> Result<(), Box<dyn Error + Send + Sync>>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn Error + Send + Sync>> + Send + 'static,
    B: HttpBody + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut server = auto::Builder::new(TokioExecutor::new());
    // Heads are timed by `downstream`, from their first byte (hyper's clock also runs idle).
    server.http1().header_read_timeout(None);
    let http2 = Arc::new(AtomicBool::new(false));
    let activity = Activity::new();
    let service = CloseWhenDraining {
        service,
        drain: drain.clone(),
        http2: http2.clone(),
        activity: activity.clone(),
    };
    let io = TokioIo::new(ActivityIo::new(io, activity.clone()));
    let connection = server.serve_connection_with_upgrades(io, service);
    let mut connection = std::pin::pin!(connection);
    let heads_timed = || !http2.load(Ordering::Relaxed);
    tokio::select! {
        ended = connection.as_mut() => return ended,
        () = drain.draining() => {}
        overdue = activity.overdue(timeouts, heads_timed) => {
            if overdue == Overdue::HeaderRead {
                tracing::debug!(timeout = ?timeouts.header_read, "request head not read in time: closing");
                return Ok(());
            }
            connection.as_mut().graceful_shutdown();
            return connection.await;
        }
    }
    // HTTP/2's GOAWAY does not race (the client learns which streams were taken): at once.
    if !http2.load(Ordering::Relaxed) {
        tokio::select! {
            ended = connection.as_mut() => return ended,
            () = tokio::time::sleep(KEEP_ALIVE_GRACE) => {}
        }
    }
    connection.as_mut().graceful_shutdown();
    connection.await
}

/// `service`, its HTTP/1 answers carrying `Connection: close` once the agent drains; notes
/// whether the connection speaks HTTP/2.
struct CloseWhenDraining<S> {
    service: S,
    drain: Drain,
    http2: Arc<AtomicBool>,
    activity: Arc<Activity>,
}

impl<S, B> Service<Request<Incoming>> for CloseWhenDraining<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<InFlightBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.request_started();
        let http1 = request.version() <= Version::HTTP_11;
        if request.version() == Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        let answer = self.service.call(request);
        let drain = self.drain.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            if http1 && drain.phase() != Phase::Serving {
                let close = HeaderValue::from_static("close");
                response.headers_mut().insert(CONNECTION, close);
            }
            Ok(response.map(|body| InFlightBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
struct InFlightBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: HttpBody + Unpin> HttpBody for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
