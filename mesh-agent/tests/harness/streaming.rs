//! gRPC-shaped calls: the `api` Service (port `grpc-api`, HTTP/2 upstream), the upstream's
//! streaming answers (client streaming answered after the first message or after the end of
//! stream; bidirectional, each message echoed as it arrives) and a client request body the test
//! feeds message by message.

use std::convert::Infallible;

use bytes::Bytes;
use futures::channel::mpsc;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Request, Response};

use super::config::{compile, pod, service, sleep};
use super::proxy::{Agent, Client, RequestBody};
use super::upstream::{healthy_on_one_port, TestBody, Upstream};

/// Where the client dials `api`.
pub const API: &str = "10.96.0.11:80";

/// Upstream path: answers once the first message arrived (the rest is read on).
pub const FIRST_MESSAGE: &str = "/stream/first";
/// Upstream path: answers the byte count once the request body ended.
pub const END_OF_STREAM: &str = "/stream/end";
/// Upstream path: echoes each message as it arrives, ends when the request does.
pub const ECHO: &str = "/stream/echo";

/// `api` (10.96.0.11:80, port name `grpc-api`) over its pod `api-0` (127.0.0.4), no
/// VirtualService (the mesh's default retry policy applies): the agent, the client `sleep-0`
/// and the pod.
pub async fn grpc_api() -> (Agent, Client, std::sync::Arc<Upstream>) {
    let (port, pods) = healthy_on_one_port(&[("127.0.0.4", "api-0")]).await;
    let yaml = [
        service("api", "10.96.0.11", "grpc-api", port),
        pod("api-0", "app: api, version: v1", "127.0.0.4"),
        sleep(),
    ]
    .concat();
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    (agent, client, pods[0].clone())
}

/// The upstream's answer to a streaming `path` (one of the constants above).
pub async fn answer(path: &str, request: Request<Incoming>) -> Response<TestBody> {
    let mut body = request.into_body();
    match path {
        FIRST_MESSAGE => {
            let first = next_data(&mut body).await.unwrap_or_default();
            tokio::spawn(body.collect());
            grpc(BodyExt::boxed(StreamBody::new(ok_then_trailers(vec![
                first,
            ]))))
        }
        END_OF_STREAM => {
            let all = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let count = Bytes::from(all.len().to_string());
            grpc(BodyExt::boxed(StreamBody::new(ok_then_trailers(vec![
                count,
            ]))))
        }
        _ => {
            let (tx, rx) = mpsc::unbounded();
            tokio::spawn(async move {
                while let Some(data) = next_data(&mut body).await {
                    let _ = tx.unbounded_send(Ok(Frame::data(data)));
                }
                let _ = tx.unbounded_send(Ok(Frame::trailers(grpc_ok())));
            });
            grpc(BodyExt::boxed(StreamBody::new(rx)))
        }
    }
}

async fn next_data(body: &mut Incoming) -> Option<Bytes> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            return Some(data);
        }
    }
    None
}

fn grpc_ok() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    trailers
}

type Frames = futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>;

fn ok_then_trailers(messages: Vec<Bytes>) -> Frames {
    let mut frames: Vec<_> = messages.into_iter().map(|m| Ok(Frame::data(m))).collect();
    frames.push(Ok(Frame::trailers(grpc_ok())));
    futures::stream::iter(frames)
}

fn grpc(body: TestBody) -> Response<TestBody> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    response
}

/// A client's streaming request body: each [`ClientStream::send`] is one DATA frame; dropping
/// the stream ends the body.
pub struct ClientStream(mpsc::UnboundedSender<Result<Frame<Bytes>, Infallible>>);

impl ClientStream {
    /// A stream and the request body it feeds.
    pub fn new() -> (Self, RequestBody) {
        let (tx, rx) = mpsc::unbounded();
        (Self(tx), BodyExt::boxed(StreamBody::new(rx)))
    }

    /// Sends `message` as one DATA frame.
    pub fn send(&self, message: impl Into<Bytes>) {
        let _ = self.0.unbounded_send(Ok(Frame::data(message.into())));
    }
}
