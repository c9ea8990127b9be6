//! The bounded queue between the request path and the exporter: pushing never waits; when
//! the queue is full the span is dropped and counted in `mesh_trace_spans_dropped_total`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use super::span::SpanRecord;

/// The tracer's own counters.
#[derive(Clone, Debug, Default)]
pub struct TraceMetrics {
    /// Spans dropped because the export queue was full.
    pub spans_dropped: Counter,
    /// Spans the collector accepted.
    pub spans_exported: Counter,
    /// Export calls that failed (the batch is lost).
    pub export_failures: Counter,
}

impl TraceMetrics {
    /// Registers `mesh_trace_spans_dropped_total`, `mesh_trace_spans_exported_total` and
    /// `mesh_trace_export_failures_total` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_trace_spans_dropped",
            "Spans dropped because the export queue was full",
            metrics.spans_dropped.clone(),
        );
        registry.register(
            "mesh_trace_spans_exported",
            "Spans accepted by the trace collector",
            metrics.spans_exported.clone(),
        );
        registry.register(
            "mesh_trace_export_failures",
            "OTLP export calls that failed",
            metrics.export_failures.clone(),
        );
        metrics
    }
}

/// The sending end of the export queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SpanQueue {
    sender: mpsc::Sender<SpanRecord>,
    dropped: Counter,
}

/// The receiving end, read by the exporter.
pub type SpanReceiver = mpsc::Receiver<SpanRecord>;

impl SpanQueue {
    /// A queue holding at most `capacity` spans (at least one).
    pub fn bounded(capacity: usize, metrics: &TraceMetrics) -> (Self, SpanReceiver) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let queue = Self {
            sender,
            dropped: metrics.spans_dropped.clone(),
        };
        (queue, receiver)
    }

    /// Queues `span`, or drops and counts it when the queue is full or the exporter is gone.
    pub fn push(&self, span: SpanRecord) {
        if self.sender.try_send(span).is_err() {
            self.dropped.inc();
        }
    }
}
