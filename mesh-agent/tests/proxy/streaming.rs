//! Streaming gRPC calls through the agent under the mesh's default retry policy: the request
//! body reaches the upstream as the client sends it (a copy is kept for retries, never waited
//! for), so client-streaming and bidirectional calls complete.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper::{Request, Response, StatusCode};
use tokio::time::timeout;

use crate::harness::proxy::RequestBody;
use crate::harness::streaming::{grpc_api, ClientStream, API, ECHO, END_OF_STREAM, FIRST_MESSAGE};
use crate::harness::GUARD;

const PAUSE: Duration = Duration::from_millis(30);

/// A gRPC message: the 5-byte prefix (not compressed, length), then `payload`.
fn message(payload: &[u8]) -> Bytes {
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(payload);
    framed.into()
}

/// Starts the call `path` on an HTTP/2 connection through the agent: the response (headers).
async fn call(
    sender: &mut http2::SendRequest<RequestBody>,
    path: &str,
    body: RequestBody,
) -> Response<Incoming> {
    let request = Request::post(format!("http://api.shop{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .unwrap();
    let response = timeout(GUARD, sender.send_request(request))
        .await
        .expect("the call is answered while the client still streams")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
}

/// The next DATA frame of `body` (within the guard).
async fn next_message(body: &mut Incoming) -> Bytes {
    loop {
        let frame = timeout(GUARD, body.frame())
            .await
            .expect("the next message comes while the client still streams")
            .expect("a frame")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            return data;
        }
    }
}

/// The rest of `body`: its data and its `grpc-status` trailer.
async fn finish(body: Incoming) -> (Bytes, String) {
    let collected = timeout(GUARD, body.collect()).await.unwrap().unwrap();
    let status = collected.trailers().expect("trailers")["grpc-status"].clone();
    (collected.to_bytes(), status.to_str().unwrap().to_string())
}

#[tokio::test]
async fn a_client_streaming_call_answered_after_its_first_message_completes() {
    let (_agent, client, _pod) = grpc_api().await;
    let mut sender = client.http2(API).await;
    let (stream, body) = ClientStream::new();
    stream.send(message(b"first"));
    let response = call(&mut sender, FIRST_MESSAGE, body).await;
    let mut answer = response.into_body();
    assert_eq!(next_message(&mut answer).await, message(b"first"));
    for n in 0..3 {
        tokio::time::sleep(PAUSE).await;
        stream.send(message(format!("more {n}").as_bytes()));
    }
    drop(stream);
    assert_eq!(finish(answer).await, (Bytes::new(), "0".to_string()));
}

#[tokio::test]
async fn a_client_streaming_call_answered_at_its_end_gets_every_byte_past_the_retry_buffer() {
    let (_agent, client, pod) = grpc_api().await;
    let mut sender = client.http2(API).await;
    let (stream, body) = ClientStream::new();
    let sending = tokio::spawn(async move {
        // 4 × 30 KiB: past the 64 KiB the retry layer keeps.
        for n in 0..4u8 {
            stream.send(message(&[n; 30 * 1024]));
            tokio::time::sleep(PAUSE).await;
        }
    });
    let response = call(&mut sender, END_OF_STREAM, body).await;
    let (count, status) = finish(response.into_body()).await;
    sending.await.unwrap();
    assert_eq!((count, status.as_str()), (Bytes::from("122900"), "0"));
    assert_eq!(pod.seen(), 1, "sent once");
}

#[tokio::test]
async fn a_bidirectional_call_gets_each_echo_before_sending_the_next_message() {
    let (_agent, client, pod) = grpc_api().await;
    let mut sender = client.http2(API).await;
    let (stream, body) = ClientStream::new();
    stream.send(message(b"ping 0"));
    let response = call(&mut sender, ECHO, body).await;
    let mut answer = response.into_body();
    for n in 0..5 {
        let sent = message(format!("ping {n}").as_bytes());
        if n > 0 {
            tokio::time::sleep(PAUSE).await;
            stream.send(sent.clone());
        }
        assert_eq!(next_message(&mut answer).await, sent, "echo {n}");
    }
    drop(stream);
    assert_eq!(finish(answer).await, (Bytes::new(), "0".to_string()));
    assert_eq!(pod.seen(), 1);
}
