//! A test OTLP collector: an HTTP/2 (h2c) hyper server on loopback that serves the gRPC
//! `TraceService/Export` call and decodes each request with the official protobuf definitions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;

/// One received span with the `service.name` of its resource.
#[derive(Clone, Debug)]
pub struct Received {
    pub service: String,
    pub span: Span,
}

impl Received {
    /// The string value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<String> {
        let kv = self.span.attributes.iter().find(|kv| kv.key == key)?;
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            other => Some(format!("{other:?}")),
        }
    }

    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The collector: its address and every span it has received so far.
#[derive(Clone)]
pub struct Collector {
    pub address: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    calls: Arc<Mutex<usize>>,
}

impl Collector {
    /// Listens on 127.0.0.1 (any port).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let collector = Self {
            address: listener.local_addr().unwrap(),
            spans: Arc::default(),
            calls: Arc::default(),
        };
        let serving = collector.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |r| serving.clone().export(r));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        collector
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// Export calls served so far.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }

    /// Waits (bounded by `guard`) until at least `count` spans arrived; returns them all.
    pub async fn wait_for(&self, count: usize, guard: Duration) -> Vec<Received> {
        let waited = tokio::time::timeout(guard, async {
            while self.spans.lock().unwrap().len() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let _ = waited.await;
        self.spans()
    }

    async fn export(
        self,
        request: Request<Incoming>,
    ) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
        assert_eq!(
            request.uri().path(),
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(request.headers()["content-type"], "application/grpc");
        let body = request.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body[0], 0, "uncompressed");
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert_eq!(body.len(), 5 + len, "one whole message");
        let decoded = ExportTraceServiceRequest::decode(&body[5..]).unwrap();
        self.keep(decoded);
        Ok(grpc_ok())
    }

    fn keep(&self, request: ExportTraceServiceRequest) {
        *self.calls.lock().unwrap() += 1;
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let service = service.clone();
                    spans.push(Received { service, span });
                }
            }
        }
    }
}

fn grpc_ok() -> Response<BoxBody<Bytes, Infallible>> {
    let message = ExportTraceServiceResponse::default();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.encoded_len() as u32).to_be_bytes());
    message.encode(&mut frame).unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from(frame))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut response = Response::new(StreamBody::new(futures::stream::iter(frames)).boxed());
    response
        .headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    response
}
