//! The never-processed failures of an upstream draining (a GOAWAY), made on the wire by real
//! h2 and hyper peers over an in-memory pipe, as the retry policy classifies them.

use super::*;
use crate::errors::{BoxError, UpstreamReset};
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::oneshot;

const PIPE: usize = 64 * 1024;

fn request() -> http::Request<()> {
    http::Request::get("http://load.up/").body(()).unwrap()
}

/// A server that answers the first stream and, once the client has the answer (`answered`),
/// goes away gracefully (GOAWAY `NO_ERROR`, last stream the first; says so on `gone`), taking
/// nothing more.
async fn answer_one_then_go_away(
    io: tokio::io::DuplexStream,
    answered: oneshot::Receiver<()>,
    gone: oneshot::Sender<()>,
) {
    let mut connection = h2::server::handshake(io).await.expect("server handshake");
    let (_request, mut respond) = connection
        .accept()
        .await
        .expect("a first stream")
        .expect("a first request");
    respond
        .send_response(Response::new(()), true)
        .expect("answered");
    let served = async { while connection.accept().await.is_some() {} };
    tokio::select! {
        () = served => panic!("the client went away first"),
        _ = answered => {}
    }
    connection.abrupt_shutdown(h2::Reason::NO_ERROR);
    gone.send(()).unwrap();
    while connection.accept().await.is_some() {}
}

/// The error of a second request on `send`, once the server went away after the first.
async fn second_request_error(send: h2::client::SendRequest<Bytes>) -> h2::Error {
    let mut send = match send.ready().await {
        Ok(send) => send,
        Err(error) => return error,
    };
    match send.send_request(request(), true) {
        Err(error) => error,
        Ok((response, _)) => response.await.expect_err("a stream past the GOAWAY's last"),
    }
}

#[tokio::test]
async fn a_stream_past_a_graceful_goaway_is_a_refused_stream() {
    let (client_io, server_io) = tokio::io::duplex(PIPE);
    let (answered, told) = oneshot::channel();
    let (going, gone) = oneshot::channel();
    tokio::spawn(answer_one_then_go_away(server_io, told, going));
    let (mut send, connection) = h2::client::handshake(client_io).await.unwrap();
    tokio::spawn(connection);
    let (response, _) = send.send_request(request(), true).unwrap();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
    answered.send(()).unwrap();
    gone.await.unwrap();
    let error = second_request_error(send).await;
    assert!(error.is_go_away() && error.is_remote(), "{error:?}");
    // As hyper and the pool hand it on.
    let wrapped: BoxError = Box::new(UpstreamReset(Box::new(io::Error::other(error))));
    assert_eq!(
        LocalFailure::of_error(wrapped.as_ref()),
        LocalFailure::RefusedStream
    );
}

#[tokio::test]
async fn a_request_hyper_dropped_unsent_is_a_refused_stream() {
    let (io, _server) = tokio::io::duplex(PIPE);
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    let request = http::Request::get("http://load.up/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let waiting = send.send_request(request);
    // Its connection's task ends (as on a GOAWAY) while the request waits to be written.
    drop(connection);
    let error = waiting.await.expect_err("its connection is gone");
    assert!(error.is_canceled(), "{error:?}");
    let wrapped: BoxError = Box::new(UpstreamReset(Box::new(error)));
    assert_eq!(
        LocalFailure::of_error(wrapped.as_ref()),
        LocalFailure::RefusedStream
    );
}
