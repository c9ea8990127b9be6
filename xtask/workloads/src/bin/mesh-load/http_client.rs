//! The HTTP load: `GET http://<host><path>` over HTTP/1.1 keep-alive or h2c (prior knowledge),
//! one request in flight per connection; the whole answer is read, and an answer other than
//! 2xx counts as an error (the connection is kept).

use crate::client::{resolve, run_connections, BACKOFF, REQUEST_TIMEOUT};
use crate::pace::{Pace, Window};
use crate::summary::{Summary, Tally};
use crate::{LoadArgs, Protocol};
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

/// What every HTTP connection task needs.
struct Target {
    addr: SocketAddr,
    uri: Uri,
    host: HeaderValue,
    h2: bool,
    new_connection_per_request: bool,
}

/// An open connection's request sender.
enum Sender {
    H1(http1::SendRequest<Empty<Bytes>>),
    H2(http2::SendRequest<Empty<Bytes>>),
}

/// Runs the HTTP load and sums it up. Returns after `warmup + duration` (plus one timeout).
pub async fn run(args: LoadArgs) -> Result<Summary> {
    let addr = resolve(&args).await?;
    let authority = match (&args.host, &args.addr) {
        (Some(host), _) | (None, Some(host)) => host.clone(),
        (None, None) => unreachable!("resolve checked --addr"),
    };
    let uri: Uri = format!("http://{authority}{}", args.path)
        .parse()
        .with_context(|| format!("http://{authority}{} is not a URI", args.path))?;
    let target = Arc::new(Target {
        addr,
        uri,
        host: HeaderValue::from_str(&authority).context("--host is not a header value")?,
        h2: args.protocol == Protocol::H2,
        new_connection_per_request: args.new_connection_per_request,
    });
    run_connections(&args, |window, pace| drive(target.clone(), window, pace)).await
}

/// One connection's loop until the window closes.
async fn drive(target: Arc<Target>, window: Window, mut pace: Pace) -> Tally {
    let mut tally = Tally::new();
    let mut sender = None;
    while window.open() {
        pace.wait().await;
        let began = Instant::now();
        match timeout(REQUEST_TIMEOUT, exchange(&mut sender, &target)).await {
            Ok(Ok(status)) if status.is_success() => {
                let done = Instant::now();
                if window.counts(began, done) {
                    tally.record(done - began);
                }
            }
            Ok(Ok(status)) => tally.fail(format_args!("answered {status}")),
            Ok(Err(error)) => {
                tally.fail(format_args!("{error:#}"));
                sender = None;
                sleep(BACKOFF).await;
            }
            Err(_) => {
                tally.fail(format_args!("no answer within {REQUEST_TIMEOUT:?}"));
                sender = None;
                sleep(BACKOFF).await;
            }
        }
    }
    tally
}

/// One GET and its whole answer, connecting first when there is no open connection.
async fn exchange(sender: &mut Option<Sender>, target: &Target) -> Result<hyper::StatusCode> {
    let conn = match sender {
        Some(conn) => conn,
        None => sender.insert(Sender::open(target).await?),
    };
    let request = || {
        let mut request = Request::get(target.uri.clone());
        if !target.h2 {
            request = request.header(HOST, target.host.clone());
        }
        request.body(Empty::new())
    };
    // A connection the server closed or sent GOAWAY on before this request went out: the
    // request was never sent, so it goes on a new connection (as browsers and curl do).
    let conn = match conn.ready().await {
        Ok(()) => conn,
        Err(_) => sender.insert(Sender::open(target).await?),
    };
    let response = match conn.send(request()?).await {
        Ok(response) => response,
        // RFC 9113 §8.7: a stream the server refused, or one past the last stream of its
        // GOAWAY, was never processed; nor was a request hyper dropped unsent (its connection
        // task ended on a GOAWAY while the request waited to go out): it is sent again on a new
        // connection, as h2 clients do (hyper-util's pooled client too).
        Err(error) if never_processed(&error) => {
            let conn = sender.insert(Sender::open(target).await?);
            conn.send(request()?).await?
        }
        Err(error) => return Err(error.into()),
    };
    let status = response.status();
    // A server closing the connection after this answer (`Connection: close`, RFC 9112 §9.6:
    // a draining agent says so) gets no further request on it: the next one reconnects.
    let closing = response
        .headers()
        .get(hyper::header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    response.into_body().collect().await?;
    if target.new_connection_per_request || closing {
        *sender = None;
    }
    Ok(status)
}

/// Whether an h2 request failed before the server processed it (safe to send again): hyper
/// dropped it unsent (`canceled`), or the server refused its stream or left it past its GOAWAY.
fn never_processed(error: &hyper::Error) -> bool {
    if error.is_canceled() {
        return true;
    }
    let cause = std::error::Error::source(error).and_then(|e| e.downcast_ref::<h2::Error>());
    let Some(cause) = cause else {
        return false;
    };
    let graceful_go_away = cause.is_go_away() && cause.reason() == Some(h2::Reason::NO_ERROR);
    cause.reason() == Some(h2::Reason::REFUSED_STREAM) || graceful_go_away
}

impl Sender {
    /// Connects and shakes hands; the connection is driven by its own task until dropped.
    async fn open(target: &Target) -> Result<Sender> {
        let stream = TcpStream::connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        if target.h2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Ok(Sender::H2(send))
        } else {
            let (send, conn) = http1::handshake(io).await?;
            tokio::spawn(conn);
            Ok(Sender::H1(send))
        }
    }

    /// Waits until the connection can take a request; an error: it never will (closed, GOAWAY).
    async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Sender::H1(send) => send.ready().await,
            Sender::H2(send) => send.ready().await,
        }
    }

    /// Sends one request once the connection is ready for it.
    async fn send(&mut self, request: Request<Empty<Bytes>>) -> hyper::Result<Response<Incoming>> {
        match self {
            Sender::H1(send) => {
                send.ready().await?;
                send.send_request(request).await
            }
            Sender::H2(send) => {
                send.ready().await?;
                send.send_request(request).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request still waiting for its connection's task when that task ends (as hyper's h2
    /// client ends it on a server's graceful GOAWAY) is dropped unsent, `canceled`: sent again.
    #[tokio::test]
    async fn a_request_dropped_unsent_by_its_connection_was_never_processed() {
        let (io, _server) = tokio::io::duplex(64 * 1024);
        let (mut send, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("the client's preface fits the pipe");
        let request = Request::get("http://load.up/")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let waiting = send.send_request(request);
        drop(connection);
        let error = waiting.await.expect_err("its connection is gone");
        assert!(error.is_canceled(), "{error:#}");
        assert!(never_processed(&error), "{error:#}");
    }
}
