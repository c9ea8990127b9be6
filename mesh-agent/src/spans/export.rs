//! The exporter task: drains the span queue in batches (up to a size, or after a delay) and
//! sends each batch to the collector as one OTLP/gRPC `Export` call over HTTP/2 (h2c).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use super::otlp::{export_request, grpc_frame, EXPORT_PATH};
use super::queue::{SpanReceiver, TraceMetrics};
use super::span::SpanRecord;
use super::CollectorAddress;

/// How spans are grouped into export calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Most spans in one call.
    pub max_batch: usize,
    /// Longest a span waits for its batch to fill.
    pub delay: Duration,
    /// Longest one export call may take.
    pub timeout: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_batch: 512,
            delay: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why an export call failed; the batch is dropped and counted.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("connecting to the collector: {0}")]
    Connect(#[from] std::io::Error),
    #[error("talking to the collector: {0}")]
    Http(#[from] hyper::Error),
    #[error("the collector answered HTTP {0}")]
    Status(StatusCode),
    #[error("the collector answered grpc-status {0}")]
    Grpc(String),
    #[error("the export call timed out")]
    Timeout,
}

/// Exports what `receiver` yields to `collector` until every queue handle is dropped.
pub async fn run_exporter(
    mut receiver: SpanReceiver,
    collector: CollectorAddress,
    batch: BatchSettings,
    metrics: TraceMetrics,
) {
    let mut channel = GrpcChannel::new(collector);
    while let Some(first) = receiver.recv().await {
        let spans = fill_batch(&mut receiver, first, &batch).await;
        let count = spans.len() as u64;
        let body = grpc_frame(&export_request(spans));
        let sent = timeout(batch.timeout, channel.export(body)).await;
        match sent.unwrap_or(Err(ExportError::Timeout)) {
            Ok(()) => drop(metrics.spans_exported.inc_by(count)),
            Err(error) => {
                metrics.export_failures.inc();
                channel.reset();
                tracing::debug!(%error, count, "span export failed; batch dropped");
            }
        }
    }
}

async fn fill_batch(
    receiver: &mut SpanReceiver,
    first: SpanRecord,
    batch: &BatchSettings,
) -> Vec<SpanRecord> {
    let mut spans = vec![first];
    let deadline = Instant::now() + batch.delay;
    while spans.len() < batch.max_batch {
        match timeout_at(deadline, receiver.recv()).await {
            Ok(Some(span)) => spans.push(span),
            Ok(None) | Err(_) => break,
        }
    }
    spans
}

/// One HTTP/2 connection to the collector, opened on first use and after a failure.
struct GrpcChannel {
    collector: CollectorAddress,
    sender: Option<http2::SendRequest<Full<Bytes>>>,
}

impl GrpcChannel {
    fn new(collector: CollectorAddress) -> Self {
        Self {
            collector,
            sender: None,
        }
    }

    fn reset(&mut self) {
        self.sender = None;
    }

    async fn ready(&mut self) -> Result<&mut http2::SendRequest<Full<Bytes>>, ExportError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let address = (self.collector.host.as_str(), self.collector.port);
            let stream = TcpStream::connect(address).await?;
            let io = TokioIo::new(stream);
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("just opened"))
    }

    async fn export(&mut self, body: Bytes) -> Result<(), ExportError> {
        let uri = format!(
            "http://{}:{}{EXPORT_PATH}",
            self.collector.host, self.collector.port
        );
        let request = Request::post(uri)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(body))
            .expect("a valid export request");
        let sender = self.ready().await?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::OK {
            return Err(ExportError::Status(response.status()));
        }
        let in_headers = grpc_status(response.headers());
        let collected = response.into_body().collect().await?;
        let status = in_headers.or_else(|| collected.trailers().and_then(grpc_status));
        match status.as_deref() {
            Some("0") => Ok(()),
            other => Err(ExportError::Grpc(other.unwrap_or("missing").into())),
        }
    }
}

fn grpc_status(headers: &hyper::HeaderMap) -> Option<String> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(value.to_string())
}
